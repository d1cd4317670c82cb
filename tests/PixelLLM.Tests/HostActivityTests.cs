using PixelLLM.Runtime.Execution;

namespace PixelLLM.Tests;

public class HostActivityTests
{
    [Fact]
    public void SinceSubtractsEveryCounterAndTheTextNamesThem()
    {
        var before = new HostActivity(10, 2, 1, 0, 1_000_000, 500_000, 1.5, 0.5, 3.0);
        var after = new HostActivity(10, 5, 2, 1, 3_000_000, 6_400_000, 2.0, 2.7, 17.2);
        var delta = after.Since(before);
        Assert.Equal(new HostActivity(0, 3, 1, 1, 2_000_000, 5_900_000, 0.5, 2.2, 14.2), delta with { UploadMs = 0.5, DownloadMs = 2.2, WaitMs = 14.2 });
        Assert.Equal(0.5, delta.UploadMs, 1e-9);
        Assert.Equal(14.2, delta.WaitMs, 1e-9);
        Assert.Equal("eager 0, replays 3, recorded 1, failed recordings 1, wait 14.2 ms, up 2.0 MB 0.5 ms, down 5.9 MB 2.2 ms", delta.ToString());
    }

    [Fact]
    public void SmallTransfersShowInKilobytes()
    {
        var activity = new HostActivity(0, 1, 0, 0, 99_950, 1_536, 0.1, 0.2, 0.3);
        Assert.Equal("eager 0, replays 1, wait 0.3 ms, up 100.0 kB 0.1 ms, down 1.5 kB 0.2 ms", activity.ToString());
        Assert.EndsWith("up 0.1 MB 0.1 ms, down 0.0 kB 0.2 ms", (activity with { BytesUp = 100_000, BytesDown = 0 }).ToString());
    }
}
