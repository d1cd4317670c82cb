using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// GroupedLinearOp on the CPU against a float64 sum per group (f32 and bf16-stored weights, one row and many), and against
/// what it replaces in the prompt adapter: a slice, a Linear and a concat per group.
/// </summary>
public class GroupedLinearTests
{
    private static double[] Reference(HostTensor x, HostTensor w, HostTensor? bias, int groups)
    {
        var (xv, wv, bv) = (OpHarness.AsDoubles(x), OpHarness.AsDoubles(w), bias is null ? null : OpHarness.AsDoubles(bias));
        int inF = w.Shape[1], outF = w.Shape[0] / groups, rows = xv.Length / (groups * inF);
        var y = new double[rows * groups * outF];
        for (int r = 0; r < rows; r++)
        for (int g = 0; g < groups; g++)
        for (int o = 0; o < outF; o++)
        {
            int row = g * outF + o;
            double sum = bv?[row] ?? 0;
            for (int i = 0; i < inF; i++) sum += xv[(r * groups + g) * inF + i] * wv[row * inF + i];
            y[(r * groups + g) * outF + o] = sum;
        }
        return y;
    }

    [Theory]
    [InlineData(new[] { 1, 5, 24 }, 33, true, false)]     // the adapter's shape: one prompt, one row per group
    [InlineData(new[] { 3, 2, 4, 13 }, 7, false, false)]  // batch dims: six rows per group, gathered
    [InlineData(new[] { 9, 3, 40 }, 16, true, true)]      // bf16-stored weights (LinearBf16) on gathered rows
    [InlineData(new[] { 1, 32, 67 }, 5, true, true)]      // bf16, one row each, K tail
    public void MatchesFloat64PerGroup(int[] xShape, int outFeatures, bool withBias, bool bf16Weights)
    {
        int groups = xShape[^2];
        var rng = new Random(xShape.Sum() * 7 + outFeatures);
        var x = OpHarness.Random(rng, xShape);
        var w = OpHarness.Random(rng, [groups * outFeatures, xShape[^1]]);
        if (bf16Weights) w = ToBf16(w);
        var bias = withBias ? OpHarness.Random(rng, [groups * outFeatures]) : null;

        var y = bias is null ? OpHarness.Run(new GroupedLinearOp(false), x, w) : OpHarness.Run(new GroupedLinearOp(true), x, w, bias);

        Assert.Equal([.. xShape[..^1], outFeatures], y.Shape.ToArray());
        OpHarness.AssertClose(Reference(x, w, bias, groups), y, what: $"grouped linear {string.Join('x', xShape)} → {outFeatures}");
    }

    [Fact]
    public void EqualsASliceAndLinearPerGroupBitForBit()
    {
        var rng = new Random(5);
        int groups = 4, inF = 19, outF = 11;
        var x = OpHarness.Random(rng, [2, groups, inF]);
        var w = OpHarness.Random(rng, [groups * outF, inF]);
        var bias = OpHarness.Random(rng, [groups * outF]);
        var grouped = OpHarness.Run(new GroupedLinearOp(true), x, w, bias).ToFloatArray();
        var xs = x.ToFloatArray();
        for (int g = 0; g < groups; g++)
        {
            var rows = HostTensor.FromArray([.. xs.Skip(g * inF).Take(inF), .. xs.Skip((groups + g) * inF).Take(inF)], 2, inF);
            var wg = HostTensor.FromArray(w.ToFloatArray().Skip(g * outF * inF).Take(outF * inF).ToArray(), outF, inF);
            var bg = HostTensor.FromArray(bias.ToFloatArray().Skip(g * outF).Take(outF).ToArray(), outF);
            var alone = OpHarness.Run(new LinearOp(true), rows, wg, bg).ToFloatArray();
            for (int r = 0; r < 2; r++)
                Assert.Equal(alone.Skip(r * outF).Take(outF), grouped.Skip((r * groups + g) * outF).Take(outF));
        }
    }

    [Theory]
    [InlineData(new[] { 1, 5, 24 }, new[] { 160, 25 }, "in-features")]  // 5 blocks of 32, but 25 in-features for 24
    [InlineData(new[] { 1, 5, 24 }, new[] { 33, 24 }, "equal blocks")]  // 33 rows are not 5 equal blocks
    public void RejectsWeightsThatAreNotOneBlockPerGroup(int[] xShape, int[] wShape, string expected)
    {
        var g = new PixelLLM.Runtime.Graphs.Graph();
        var x = g.Input("x", DType.F32, xShape);
        var w = g.Input("w", DType.F32, wShape);
        var e = Assert.ThrowsAny<Exception>(() => g.Apply(new GroupedLinearOp(false), x, w));
        Assert.Contains(expected, e.Message);
    }

    private static HostTensor ToBf16(HostTensor f32)
    {
        var bits = f32.ToFloatArray().Select(BFloat16.FromSingle).ToArray();
        var bytes = new byte[bits.Length * 2];
        Buffer.BlockCopy(bits, 0, bytes, 0, bytes.Length);
        return new HostTensor(new TensorDesc(DType.BF16, f32.Shape), bytes);
    }
}
