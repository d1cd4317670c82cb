using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Cli;

/// <summary>
/// Where <c>--profile</c>, <c>--profile-json</c> and <c>--profile-timeline</c> send a request's profile: the table to a
/// writer, the JSON and the timeline to files (each whole or not at all).
/// </summary>
internal static class ProfileOutput
{
    /// <summary>Prints the table (when asked) and returns the profile files to write with the request's other outputs.</summary>
    public static IEnumerable<OutputFile.Pending> Write(ExecutionProfiler profiler, TextWriter? table, string? jsonPath, string? timelinePath)
    {
        var report = profiler.Report();
        if (table is not null)
        {
            table.WriteLine();
            report.WriteTable(table);
        }
        if (jsonPath is not null) yield return new OutputFile.Pending("--profile-json", jsonPath, report.WriteJson);
        if (timelinePath is not null) yield return new OutputFile.Pending("--profile-timeline", timelinePath, profiler.WriteTimeline);
    }

    /// <summary>A request's stages ("vision", "prompts", "decode", "points") as sections of <paramref name="timeline"/>, then <paramref name="next"/>.</summary>
    public static Action<PixelLlmEvent>? WithSections(Action<PixelLlmEvent>? next, ProfileTimeline? timeline) =>
        timeline is null ? next : e =>
        {
            if (e is StageStarted s) timeline.BeginSection(s.Stage);
            next?.Invoke(e);
        };
}
