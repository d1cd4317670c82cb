using System.Globalization;
using System.Text.Json;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Cli;

/// <summary>
/// <c>bench --profile / --profile-json / --profile-timeline</c>: one profiler around the bench's backend, reset before each stage and again after its warm-up (so first-use kernel compilation and graph setup stay out), its report
/// printed after the stage (with launches per decode step for the decode stages) and collected into one JSON file; the
/// timeline keeps each stage's timed runs in a section named after it.
/// Stage times measured under profiling include the per-node timing and run without graph capture.
/// </summary>
internal sealed class BenchProfiling(TextWriter? table, string? jsonPath, bool timeLaunches = false, string? timelinePath = null)
{
    private readonly List<(string Stage, ProfileReport Report, bool Decodes)> reports = [];

    public ExecutionProfiler Profiler { get; } = new(timeLaunches, recordTimeline: timelinePath is not null);

    public void StageStarted(string stage)
    {
        Profiler.Reset();
        Profiler.Timeline?.BeginSection(stage);
    }

    /// <param name="decodes">whether the stage decodes (its most-run graph is a decode step); default: its name says so.</param>
    public void StageDone(string stage, bool? decodes = null)
    {
        bool decoding = decodes ?? stage.StartsWith("decode", StringComparison.Ordinal);
        Profiler.Timeline?.EndSection();
        var report = Profiler.Report();
        reports.Add((stage, report, decoding));
        if (table is null) return;
        if (decoding && DecodeStep(report) is { } step)
            table.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  launches per decode step: {step.LaunchesPerRun:F0} ({step.Graph}, {step.Runs} steps, {step.DeviceMsPerRun:F3} ms device / {step.WallMsPerRun:F3} ms wall per step)"));
        report.WriteTable(table);
        table.WriteLine();
    }

    /// <summary>The decode-step graph: the one run most often during a decode stage (the prefill runs once per caption).</summary>
    public static GraphProfileRow? DecodeStep(ProfileReport report) => report.Graphs.OrderByDescending(g => g.Runs).FirstOrDefault();

    public void Finish()
    {
        if (timelinePath is not null) OutputFile.Write("--profile-timeline", timelinePath, Profiler.WriteTimeline);
        if (jsonPath is not null) OutputFile.Write("--profile-json", jsonPath, WriteJson);
    }

    private void WriteJson(Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteStartArray("stages");
        foreach (var (stage, report, decodes) in reports)
        {
            w.WriteStartObject();
            w.WriteString("stage", stage);
            if (decodes && DecodeStep(report) is { } step)
                w.WriteNumber("launches_per_decode_step", step.LaunchesPerRun);
            w.WritePropertyName("profile");
            report.WriteJson(w);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
