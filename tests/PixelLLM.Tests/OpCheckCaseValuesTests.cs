using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>Given input values of backend-check cases: they replace the random draw, and the RoIAlign boxes survive bf16.</summary>
public class OpCheckCaseValuesTests
{
    private static float RoundToBf16(float v) => BFloat16.ToSingle(BFloat16.FromSingle(v));

    [Fact]
    public void RoiAlignCasesPoolTheirGivenBoxesAndIdsInBothStorageModes()
    {
        var cases = OpCheckCases.All.Where(c => c.Op is RoiAlignOp).ToArray();
        Assert.NotEmpty(cases);
        foreach (var c in cases)
        {
            var boxes = c.Values[0];
            var exact = c.MakeInputs(new Random(1), v => v);
            var rounded = c.MakeInputs(new Random(2), RoundToBf16);
            Assert.Equal(boxes, exact[0].AsSpan<float>().ToArray());
            Assert.Equal(boxes, rounded[0].AsSpan<float>().ToArray());
            Assert.Equal(c.Values[1].Select(v => (int)v), rounded[1].AsSpan<int>().ToArray());
        }
        var ids = cases.SelectMany(c => c.Values[1]).ToArray();
        Assert.Contains(-1f, ids);
        Assert.Contains(cases.SelectMany(c => c.Values[0].Chunk(4)), b => b[0] == b[2]); // a zero-width box
        Assert.Contains(cases.SelectMany(c => c.Values[0].Chunk(4)), b => b[0] < 0 && b[1] < 0); // across the top-left corner
    }

    [Fact]
    public void GivenValuesOfTheWrongLengthAreRejected()
    {
        var c = new OpCheckCase("bad", new ScaleOp(1f, 0f), [new TensorDesc(DType.F32, new Shape(2, 3))]) { Values = new() { [0] = [1f, 2f] } };
        var e = Assert.Throws<InvalidOperationException>(() => c.MakeInputs(new Random(1), v => v));
        Assert.Contains("2 given values", e.Message);
    }
}
