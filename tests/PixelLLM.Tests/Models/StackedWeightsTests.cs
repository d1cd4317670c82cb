using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PixelLLM.Models.Common;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Models;

/// <summary>
/// ParamScope.Stacked: parts in order along axis 0, each zero-padded to its block, a missing part as zeros, one copy per
/// weight source (so every graph built from it binds the same tensor and a backend uploads it once), exact shapes enforced;
/// parts stored back to back in a mapped file become one view of it, not a copy.
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
    [Fact]
    public void PartsStoredBackToBackInAMappedFileAreAViewOfItNotACopy()
    {
        var path = Path.Combine(Path.GetTempPath(), $"stacked-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafeTensorsWriter.Write(path, new Dictionary<string, HostTensor>
            {
                ["a.w"] = HostTensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3),
                ["a.v"] = HostTensor.FromArray(new float[] { 7, 8, 9, 10, 11, 12 }, 2, 3),
                ["a.x"] = HostTensor.FromArray(new float[] { 13, 14, 15, 16, 17, 18 }, 2, 3),
            });
            using var file = SafeTensorsFile.Open(path);
            var p = new ParamScope(new Graph(), new SafeTensorsWeights(file), "a");

            var view = p.Stacked(["w", "v"], [2, 3]).WeightData!;
            Assert.True(view.IsMaterialised);   // nothing to make: it is the file's bytes
            Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(view.Data.Span), ref MemoryMarshal.GetReference(file["a.w"].Data.Span)));
            Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, view.ToFloatArray());
            Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18 },
                p.Stacked(["w", "v", "x"], [2, 3]).WeightData!.ToFloatArray());

            // Out of file order, not adjacent, padded or with a zero part: a copy, made when first read.
            foreach (var (names, padded, expected) in new (string?[], int[], float[])[]
            {
                (["v", "w"], [2, 3], [7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]),
                (["w", "x"], [2, 3], [1, 2, 3, 4, 5, 6, 13, 14, 15, 16, 17, 18]),
                (["w", "v"], [2, 4], [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0]),
                (["w", null], [2, 3], [1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0]),
            })
            {
                var copy = p.Stacked(names, [2, 3], padded).WeightData!;
                Assert.False(copy.IsMaterialised);
                Assert.Equal(expected, copy.ToFloatArray());
            }
        }
        finally { File.Delete(path); }
    }
}
