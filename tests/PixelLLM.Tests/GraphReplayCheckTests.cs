using PixelLLM.Cli;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// <c>pixelllm graph-check</c>'s comparison on the CPU with the fake recording backend: a faithful recorder passes with
/// every step after the first replayed, a recorder that drops launches fails, and so does a backend that never records.
/// </summary>
public class GraphReplayCheckTests
{
    [Fact]
    public void FaithfulReplayOfTheDecodeStepPasses()
    {
        using var fake = new FakeCaptureBackend();
        var output = new StringWriter();
        Assert.Equal(0, GraphCheckCommand.Run(fake, "pixelllm-tiny", [1, 3], steps: 6, seed: 3, output));
        Assert.Contains("2/2 decode-step shapes replay == eager", output.ToString());
        Assert.Contains("bitwise identical", output.ToString());
        Assert.Equal(2, fake.CaptureAttempts); // one recording per (batch, beam) shape
    }

    [Fact]
    public void ReplayThatDropsLaunchesFails()
    {
        using var fake = new FakeCaptureBackend { DropSecondHalfOnReplay = true };
        var config = BenchConfigs.Get("pixelllm-tiny");
        var result = GraphReplayCheck.Run(fake, config, GraphReplayCheck.Weights(config, Runtime.DType.F32, 3), beams: 2, steps: 6, seed: 3);
        Assert.False(result.Passed, result.ToString());
        Assert.True(result.MaxAbsDiff > 0);
        Assert.Equal(5, result.Replays);
    }

    [Fact]
    public void BackendThatNeverRecordsFails()
    {
        using var fake = new FakeCaptureBackend { FailCaptures = true };
        var output = new StringWriter();
        Assert.Equal(1, GraphCheckCommand.Run(fake, "pixelllm-tiny", [1], steps: 4, seed: 3, output));
        Assert.Contains("0 replays  FAIL", output.ToString());
    }

    [Fact]
    public void BeamListIsValidated()
    {
        Assert.Equal([1, 4], GraphCheckCommand.Beams("1, 4"));
        Assert.Contains("'x'", Assert.Throws<Runtime.InvalidInputException>(() => GraphCheckCommand.Beams("1,x")).Message);
    }
}
