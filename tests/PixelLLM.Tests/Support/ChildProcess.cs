using System.Diagnostics;

namespace PixelLLM.Tests.Support;

/// <summary>Runs a program to completion (or kills it at a time limit) and hands back its exit code and output.</summary>
internal static class ChildProcess
{
    /// <summary>stdout then stderr; exit code −1 with "timed out" when <paramref name="limit"/> passes first.</summary>
    public static (int ExitCode, string Output, TimeSpan Elapsed) Run(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment,
        TimeSpan limit, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out after {limit.TotalMinutes:F0} min\n{stderr.Result}", clock.Elapsed);
        }
        return (process.ExitCode, stdout.Result + stderr.Result, clock.Elapsed);
    }

    /// <summary>The last 4,000 characters of <paramref name="text"/>, for a failure message.</summary>
    public static string Tail(string text) => text.Length <= 4000 ? text : "…" + text[^4000..];
}
