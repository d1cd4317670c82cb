using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Models;

/// <summary>
/// ParamScope.Stacked: parts in order along axis 0, each zero-padded to its block, a missing part as zeros, one copy per
/// weight source (so every graph built from it binds the same tensor and a backend uploads it once), exact shapes enforced.
/// </summary>
public class StackedWeightsTests
{
    private static DictionaryWeights Source() => new(new Dictionary<string, HostTensor>
    {
        ["a.w"] = HostTensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3),
        ["a.v"] = HostTensor.FromArray(new float[] { 7, 8, 9, 10, 11, 12 }, 2, 3),
    });

    [Fact]
    public void PartsArePaddedIntoTheirBlocksInOrderAndAMissingPartIsZeros()
    {
        var p = new ParamScope(new Graph(), Source(), "a");
        var t = p.Stacked(["w", null, "v"], [2, 3], [3, 4]);
        Assert.Equal(new Shape(9, 4), t.Shape);
        Assert.Equal(new float[] { 1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 8, 9, 0, 10, 11, 12, 0, 0, 0, 0, 0 },
            t.WeightData!.ToFloatArray());
    }

    [Fact]
    public void GraphsBuiltFromOneSourceShareOneCopy()
    {
        var source = Source();
        var first = new ParamScope(new Graph(), source, "a").Stacked(["w", "v"], [2, 3]);
        var second = new ParamScope(new Graph(), source, "a").Stacked(["w", "v"], [2, 3]);
        var other = new ParamScope(new Graph(), Source(), "a").Stacked(["w", "v"], [2, 3]);
        Assert.Same(first.WeightData, second.WeightData);
        Assert.NotSame(first.WeightData, other.WeightData);
    }

    [Fact]
    public void AStoredShapeOtherThanTheExpectedOneNamesTheTensor()
    {
        var e = Assert.Throws<ModelFileException>(() => new ParamScope(new Graph(), Source(), "a").Stacked(["w", "v"], [3, 2]));
        Assert.Contains("a.w", e.Message);
    }
}
