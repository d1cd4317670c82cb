using System.Diagnostics;
using System.Text;

namespace PixelLLM.Cli;

/// <summary>What a child `pixelllm` printed and how it ended (<see cref="SelfProcess.Run"/>).</summary>
internal sealed record ChildResult(int ExitCode, bool TimedOut, string Output)
{
    public bool Passed => ExitCode == 0 && !TimedOut;

    /// <summary>The last non-empty line of its output: what a failing command says about itself.</summary>
    public string LastLine => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
}

/// <summary>
/// Runs this same `pixelllm` as a child process with its own switches: each measurement in a process of its own, so one
/// path's failure (a sticky device error, a crash) cannot touch the next, and every switch is read at start as usual.
/// </summary>
internal static class SelfProcess
{
    /// <summary>The executable and the arguments before the command's own: the app host, or `dotnet pixelllm.dll`.</summary>
    public static (string File, string[] Prefix) Invocation()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("this process's executable is unknown");
        if (!Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase)) return (process, []);
        // `dotnet pixelllm.dll …`: the first command-line argument is the application's dll.
        return (process, [Environment.GetCommandLineArgs()[0]]);
    }

    /// <summary>One command line as a user would type it (for the plan and the logs).</summary>
    public static string Describe(IReadOnlyDictionary<string, string?> environment, IEnumerable<string> arguments) =>
        string.Join(" ", environment.Select(e => e.Value is null ? $"-u {e.Key}" : $"{e.Key}={e.Value}")
            .Concat(["pixelllm"]).Concat(arguments.Select(a => a.Contains(' ') ? $"'{a}'" : a)));

    /// <summary>
    /// Runs `pixelllm <paramref name="arguments"/>` with <paramref name="environment"/> applied (a null value removes the
    /// variable) and waits up to <paramref name="timeout"/>, after which the child and its own children are killed.
    /// </summary>
    public static ChildResult Run(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout)
    {
        var (file, prefix) = Invocation();
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in prefix.Concat(arguments)) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment)
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        var output = new StringBuilder();
        using var child = new Process { StartInfo = start };
        child.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        child.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        child.Start();
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        bool timedOut = !child.WaitForExit(timeout);
        if (timedOut)
        {
            try { child.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { } // ended meanwhile
            child.WaitForExit();
        }
        else child.WaitForExit(); // drains the redirected streams
        lock (output) return new ChildResult(timedOut ? -1 : child.ExitCode, timedOut, output.ToString());
    }
}
