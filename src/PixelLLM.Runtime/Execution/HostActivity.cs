using System.Diagnostics;

namespace PixelLLM.Runtime.Execution;

/// <summary>
/// What a device backend did on the host so far (cumulative since it was created): kernels launched one by one versus
/// graph replays, recordings and failed recordings, bytes and milliseconds of uploads and downloads (conversion to and
/// from 16-bit storage included), and milliseconds spent waiting for the device. Subtract two snapshots
/// (<see cref="Since"/>) to see where a request's wall time went besides the kernels.
/// </summary>
public readonly record struct HostActivity(long EagerLaunches, long Replays, long Captures, long CaptureFailures,
    long BytesUp, long BytesDown, double UploadMs, double DownloadMs, double WaitMs)
{
    /// <summary>The activity between <paramref name="earlier"/> and this snapshot.</summary>
    public HostActivity Since(HostActivity earlier) => new(EagerLaunches - earlier.EagerLaunches, Replays - earlier.Replays,
        Captures - earlier.Captures, CaptureFailures - earlier.CaptureFailures, BytesUp - earlier.BytesUp, BytesDown - earlier.BytesDown,
        UploadMs - earlier.UploadMs, DownloadMs - earlier.DownloadMs, WaitMs - earlier.WaitMs);

    /// <summary>e.g. "eager 0, replays 2, wait 14.1 ms, up 1.8 MB 0.6 ms, down 5.9 MB 2.2 ms".</summary>
    public override string ToString() =>
        $"eager {EagerLaunches}, replays {Replays}{(Captures > 0 ? $", recorded {Captures}" : "")}{(CaptureFailures > 0 ? $", failed recordings {CaptureFailures}" : "")}, " +
        $"wait {WaitMs:F1} ms, up {Size(BytesUp)} {UploadMs:F1} ms, down {Size(BytesDown)} {DownloadMs:F1} ms";

    /// <summary>MB to one decimal, or kB below 0.1 MB, so a tiny model's hand-overs (or their absence) still show.</summary>
    private static string Size(long bytes) => bytes >= 100_000 ? $"{bytes / 1e6:F1} MB" : $"{bytes / 1e3:F1} kB";

    /// <summary>Milliseconds since <paramref name="startTimestamp"/> (a <see cref="Stopwatch.GetTimestamp"/> value).</summary>
    public static double MillisecondsSince(long startTimestamp) => Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;
}

/// <summary>A backend that keeps <see cref="HostActivity"/> counters (the CUDA backend).</summary>
public interface IHostActivitySource
{
    /// <summary>The counters now.</summary>
    HostActivity HostActivity { get; }
}
