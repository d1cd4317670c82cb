using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>The run description and stage rows every bench JSON is made of, so the caption and dense-captioning benches stay comparable.</summary>
internal static class BenchJson
{
    internal static void WriteRunHeader(Utf8JsonWriter w, string config, string backend, DType weights, int runs, int seed,
        string loadBefore, string loadAfter, long peakResidentBytes) =>
        WriteRunHeader(w, config, backend, weights.ToString(), runs, seed, loadBefore, loadAfter, peakResidentBytes);

    /// <param name="seed">the random weights' seed; null for a model directory's own weights.</param>
    internal static void WriteRunHeader(Utf8JsonWriter w, string config, string backend, string weights, int runs, int? seed,
        string loadBefore, string loadAfter, long peakResidentBytes)
    {
        w.WriteString("config", config);
        w.WriteString("backend", backend);
        w.WriteString("weights", weights);
        w.WriteNumber("runs", runs);
        if (seed is int s) w.WriteNumber("seed", s);
        w.WriteNumber("cores", Environment.ProcessorCount);
        w.WriteString("date_utc", DateTime.UtcNow.ToString("u"));
        w.WriteString("load_average_before", loadBefore);
        w.WriteString("load_average_after", loadAfter);
        w.WriteNumber("peak_resident_bytes", peakResidentBytes);
        w.WriteStartObject("switches");
        foreach (var (name, value) in Switches()) w.WriteString(name, value);
        w.WriteEndObject();
    }

    /// <summary>
    /// The engine's PIXELLLM_* environment switches set for this run, sorted: an A/B pair of runs differs exactly here.
    /// </summary>
    internal static IReadOnlyList<(string Name, string Value)> Switches() =>
        [.. Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("PIXELLLM_", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(k => (k, Environment.GetEnvironmentVariable(k) ?? ""))];

    /// <summary>"PIXELLLM_A=1 PIXELLLM_B=0", or "none" (every default).</summary>
    internal static string SwitchesLine()
    {
        var set = Switches();
        return set.Count == 0 ? "none" : string.Join(" ", set.Select(s => $"{s.Name}={s.Value}"));
    }

    /// <summary>One timed stage as an object; <paramref name="key"/> (the stage's short name) first when given, <paramref name="extra"/>'s fields last.</summary>
    internal static void WriteStage(Utf8JsonWriter w, StageTiming r, string? key = null, Action<Utf8JsonWriter>? extra = null)
    {
        w.WriteStartObject();
        if (key is not null) w.WriteString("key", key);
        w.WriteString("stage", r.Stage);
        w.WriteNumber("best_ms", Math.Round(r.BestMs, 2));
        w.WriteNumber("median_ms", Math.Round(r.MedianMs, 2));
        w.WriteNumber("cpu_ms", Math.Round(r.CpuMs, 2));
        w.WriteNumber("timed_runs", r.Runs);
        w.WriteString("note", r.Note);
        extra?.Invoke(w);
        w.WriteEndObject();
    }
}
