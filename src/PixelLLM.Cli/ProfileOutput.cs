using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Cli;

/// <summary>
/// Where <c>--profile</c>, <c>--profile-json</c> and <c>--profile-timeline</c> send a request's profile: the table to a
/// writer, the JSON and the timeline to files (each whole or not at all).
/// </summary>
internal static class ProfileOutput
{
    public static void Write(ExecutionProfiler profiler, TextWriter? table, string? jsonPath, string? timelinePath)
    {
        var report = profiler.Report();
        if (table is not null)
        {
            table.WriteLine();
            report.WriteTable(table);
        }
        if (jsonPath is not null) WriteFile(jsonPath, report.WriteJson);
        if (timelinePath is not null) WriteFile(timelinePath, profiler.WriteTimeline);
    }

    /// <summary>Writes <paramref name="path"/> through a temporary file beside it, renamed only once complete.</summary>
    public static void WriteFile(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var temp = RequestRun.TempBeside(full);
        try
        {
            using (var stream = File.Create(temp)) write(stream);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>A request's stages ("vision", "prompts", "decode", "points") as sections of <paramref name="timeline"/>, then <paramref name="next"/>.</summary>
    public static Action<PixelLlmEvent>? WithSections(Action<PixelLlmEvent>? next, ProfileTimeline? timeline) =>
        timeline is null ? next : e =>
        {
            if (e is StageStarted s) timeline.BeginSection(s.Stage);
            next?.Invoke(e);
        };
}
