using PixelLLM.Backends.Cuda.Device;
using Xunit;

namespace PixelLLM.Tests;

/// <summary>How the GEMM tuner picks among timed cuBLASLt candidates (the timing itself needs a device: bench/gpu/run.sh).</summary>
public class GemmAlgorithmTunerTests
{
    [Fact]
    public void FastestCandidateWinsWhenClearlyFaster() =>
        Assert.Equal(2, GemmAlgorithmTuner.Fastest([0.050f, 0.049f, 0.030f, 0.031f]));

    [Fact]
    public void HeuristicPickKeptWithinTwoPercent() =>
        Assert.Equal(0, GemmAlgorithmTuner.Fastest([0.0500f, 0.0495f, 0.0499f]));

    [Fact]
    public void RefusedAndNonFiniteCandidatesAreSkipped() =>
        Assert.Equal(3, GemmAlgorithmTuner.Fastest([null, float.NaN, 0.040f, 0.020f, float.PositiveInfinity]));

    [Fact]
    public void RefusedHeuristicPickLosesToAnyThatRan() =>
        Assert.Equal(1, GemmAlgorithmTuner.Fastest([null, 0.9f]));

    [Fact]
    public void NothingRanFallsBackToTheHeuristicPick()
    {
        Assert.Equal(0, GemmAlgorithmTuner.Fastest([null, null]));
        Assert.Equal(0, GemmAlgorithmTuner.Fastest([]));
    }

    [Fact]
    public void ATieKeepsTheEarlierCandidate() =>
        Assert.Equal(1, GemmAlgorithmTuner.Fastest([0.05f, 0.02f, 0.02f]));
}
