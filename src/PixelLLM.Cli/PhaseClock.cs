using System.Diagnostics;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Cli;

/// <summary>
/// Wall and process CPU time (all threads) of consecutive phases of one run, and on a device backend what the host did
/// in each (launches, replays, waits, copies: <see cref="HostActivity"/>).
/// </summary>
internal sealed class PhaseClock(IHostActivitySource? host)
{
    private readonly Stopwatch clock = new();
    private readonly Process process = Process.GetCurrentProcess();
    private readonly List<(string Name, double WallMs, double CpuMs, HostActivity? Host)> laps = [];
    private double lastWall;
    private TimeSpan lastCpu;
    private HostActivity lastHost;

    public double TotalMs => lastWall;

    /// <summary>The phases of the run so far: name, wall and process CPU milliseconds.</summary>
    public IEnumerable<(string Name, double WallMs, double CpuMs)> Laps => laps.Select(l => (l.Name, l.WallMs, l.CpuMs));

    public void Restart()
    {
        laps.Clear();
        lastWall = 0;
        process.Refresh();
        lastCpu = process.TotalProcessorTime;
        if (host is not null) lastHost = host.HostActivity;
        clock.Restart();
    }

    public void Lap(string name)
    {
        double now = clock.Elapsed.TotalMilliseconds;
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        HostActivity? activity = null;
        if (host is not null)
        {
            var counters = host.HostActivity;
            activity = counters.Since(lastHost);
            lastHost = counters;
        }
        laps.Add((name, now - lastWall, (cpu - lastCpu).TotalMilliseconds, activity));
        (lastWall, lastCpu) = (now, cpu);
    }

    /// <summary>"name wall/cpu" per phase, in milliseconds, then what the host did per phase where the backend says.</summary>
    public override string ToString() => string.Join(", ", laps.Select(l => $"{l.Name} {l.WallMs:F0}/{l.CpuMs:F0}")) +
        (laps.Any(l => l.Host is not null) ? "; host: " + string.Join("; ", laps.Select(l => $"{l.Name} [{l.Host}]")) : "");
}
