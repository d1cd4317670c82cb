using System.Diagnostics;

namespace PixelLLM.Cli;

/// <summary>One measured stage: best and median wall time of the timed runs, and the median process CPU time (all threads).</summary>
internal sealed record StageTiming(string Stage, double BestMs, double MedianMs, double CpuMs, int Runs, string Note = "");

/// <summary>
/// Times a piece of work the way the bench reports it: one untimed warm-up call (graph compilation, JIT, first touch of
/// lazily generated weights), then <c>runs</c> timed calls. Best-of-N is the headline on a shared machine; the median and
/// the CPU time show how much the other tenants interfered.
/// </summary>
internal static class BenchTimer
{
    /// <param name="afterWarmUp">called between the warm-up and the timed runs (the profiler's reset: its tables then show steady state).</param>
    public static StageTiming Measure(string stage, int runs, Action work, string note = "", bool warmUp = true, Action? afterWarmUp = null)
    {
        if (warmUp) work();
        afterWarmUp?.Invoke();
        var wall = new double[runs];
        var cpu = new double[runs];
        var process = Process.GetCurrentProcess();
        for (int i = 0; i < runs; i++)
        {
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            work();
            wall[i] = clock.Elapsed.TotalMilliseconds;
            process.Refresh();
            cpu[i] = (process.TotalProcessorTime - cpuStart).TotalMilliseconds;
        }
        return new StageTiming(stage, wall.Min(), Median(wall), Median(cpu), runs, note);
    }

    public static double Median(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n == 0 ? double.NaN : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>The 1/5/15-minute load average (Linux), or "n/a": the bench shares its cores with other work.</summary>
    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return string.Join(' ', parts.Take(3));
        }
        catch (IOException) { return "n/a"; }
        catch (UnauthorizedAccessException) { return "n/a"; }
    }
}
