using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// Linear with a bf16 weight on the CPU backend: equal (f32 accumulation) to a float64 reference computed on the
/// bf16-rounded weight values, on odd shapes covering the decode path (≤ 8 rows: bf16 dot products, odd K tails,
/// one, two and four-row tiles, split across threads) and the widened-GEMM path (more rows, several 128-row weight blocks).
/// </summary>
public class LinearBf16Tests
{
    private static HostTensor ToBf16(HostTensor f32)
    {
        var values = f32.ToFloatArray();
        var bits = values.Select(BFloat16.FromSingle).ToArray();
        var bytes = new byte[bits.Length * 2];
        Buffer.BlockCopy(bits, 0, bytes, 0, bytes.Length);
        return new HostTensor(new TensorDesc(DType.BF16, f32.Shape), bytes);
    }

    private static double[] Reference(HostTensor x, HostTensor wBf16, HostTensor? bias)
    {
        var xv = OpHarness.AsDoubles(x);
        var wv = OpHarness.AsDoubles(wBf16);          // exact widening of the stored bf16 values
        var bv = bias is null ? null : OpHarness.AsDoubles(bias);
        int outF = wBf16.Shape[0], inF = wBf16.Shape[1], rows = xv.Length / Math.Max(inF, 1);
        var y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double sum = bv?[o] ?? 0;
                for (int i = 0; i < inF; i++) sum += xv[r * inF + i] * wv[o * inF + i];
                y[r * outF + o] = sum;
            }
        return y;
    }

    [Theory]
    [InlineData(new[] { 1, 67 }, 5)]          // one row, K tail < 32, fewer columns than a tile
    [InlineData(new[] { 2, 33 }, 7)]          // two-row tile, K = 32 + 1
    [InlineData(new[] { 3, 100 }, 131)]       // odd rows: a two-row then a one-row tile
    [InlineData(new[] { 2, 4, 97 }, 19)]      // rank-3 input, 8 rows (the largest decode batch): two four-row tiles
    [InlineData(new[] { 5, 70 }, 13)]         // a four-row tile (512-bit vectors) then a one-row tile, K tail 6
    [InlineData(new[] { 7, 161 }, 9)]         // four-row, two-row and one-row tiles, K tail 1
    [InlineData(new[] { 1, 1, 31 }, 1)]       // K below one vector
    [InlineData(new[] { 9, 65 }, 3)]          // just past the decode path: widened blocks
    [InlineData(new[] { 2, 23, 129 }, 261)]   // widened, three 128-row weight blocks with a ragged last one
    public void MatchesFloat64OnBf16RoundedWeights(int[] xShape, int outFeatures)
    {
        var rng = new Random(xShape.Sum() * 31 + outFeatures);
        var x = OpHarness.Random(rng, xShape);
        var w = ToBf16(OpHarness.Random(rng, [outFeatures, xShape[^1]]));
        var bias = OpHarness.Random(rng, [outFeatures]);

        var withBias = OpHarness.Run(new LinearOp(true), x, w, bias);
        Assert.Equal(DType.F32, withBias.DType);
        Assert.Equal([.. xShape[..^1], outFeatures], withBias.Shape.ToArray());
        OpHarness.AssertClose(Reference(x, w, bias), withBias, what: "bf16 linear+bias");
        OpHarness.AssertClose(Reference(x, w, null), OpHarness.Run(new LinearOp(false), x, w), what: "bf16 linear");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(40)]
    public void LargeEnoughToSplitAcrossThreads(int rows)
    {
        var rng = new Random(rows);
        var x = OpHarness.Random(rng, [rows, 1031]);
        var w = ToBf16(OpHarness.Random(rng, [2053, 1031]));       // 2.1 M multiply-adds per row: parallel even for one row
        var bias = OpHarness.Random(rng, [2053]);
        OpHarness.AssertClose(Reference(x, w, bias), OpHarness.Run(new LinearOp(true), x, w, bias), atol: 2e-4, what: $"bf16 linear, {rows} rows");
    }

    [Fact]
    public void Bf16GraphWeightIsUsedInPlaceAndOtherOpsRejectIt()
    {
        var rng = new Random(5);
        var w = ToBf16(OpHarness.Random(rng, [6, 9]));
        var x = OpHarness.Random(rng, [2, 9]);
        var g = new Graph();
        var weight = g.Weight("w", w);
        g.Output("y", g.Linear(g.Input("x", DType.F32, 2, 9), weight));
        using var backend = new CpuBackend();
        using (var exec = new GraphExecutor(g, backend))
        {
            exec.SetInput("x", x);
            exec.Run();
            OpHarness.AssertClose(Reference(x, w, null), exec.Fetch("y"), what: "bf16 graph weight");
        }

        // A bf16 tensor anywhere but a Linear weight is refused when the op runs, naming the dtype.
        var g2 = new Graph();
        g2.Output("y", g2.MatMul(g2.Input("x", DType.F32, 2, 9), g2.Weight("w", w), transB: true));
        using var exec2 = new GraphExecutor(g2, backend);
        exec2.SetInput("x", x);
        var e = Assert.Throws<NotSupportedException>(exec2.Run);
        Assert.Contains("BF16", e.Message);
    }

    /// <summary>
    /// A weight offering a bf16 <see cref="HostTensor.LinearForm"/>: every Linear of a graph reads that form (bound once),
    /// the deferred f32 bytes are never made while only Linears read it, and the first other reader makes them.
    /// </summary>
    [Fact]
    public void LinearsReadTheLinearFormAndTheF32CopyIsMadeOnlyForAnotherReader()
    {
        var rng = new Random(8);
        var stored = ToBf16(OpHarness.Random(rng, [7, 11]));
        var widened = stored.ToF32Deferred();
        var weight = new HostTensor(widened.Desc, widened.Data) { LinearForm = stored };
        var x = OpHarness.Random(rng, [3, 11]);
        Assert.False(weight.IsMaterialised);

        var g = new Graph();
        var input = g.Input("x", DType.F32, 3, 11);
        var w = g.Weight("param.w", weight);
        g.Output("y", g.Linear(input, w));
        g.Output("z", g.Linear(input, w));
        Assert.Same(g["param.w:linear"], g.LinearWeight(w));
        Assert.Equal(DType.BF16, g["param.w:linear"].DType);
        using var backend = new CpuBackend();
        using (var exec = new GraphExecutor(g, backend))
        {
            exec.SetInput("x", x);
            exec.Run();
            OpHarness.AssertClose(Reference(x, stored, null), exec.Fetch("y"), what: "linear form");
            Assert.Equal(exec.Fetch("y").ToFloatArray(), exec.Fetch("z").ToFloatArray());
        }
        Assert.False(weight.IsMaterialised);

        var g2 = new Graph();
        g2.Output("y", g2.MatMul(g2.Input("x", DType.F32, 3, 11), g2.Weight("param.w", weight), transB: true));
        using var exec2 = new GraphExecutor(g2, backend);
        exec2.SetInput("x", x);
        exec2.Run();
        Assert.True(weight.IsMaterialised);
        Assert.Equal(stored.ToFloatArray(), weight.ToFloatArray());           // the exact widening
        OpHarness.AssertClose(Reference(x, stored, null), exec2.Fetch("y"), what: "f32 reader of the same weight");
    }

    [Fact]
    public void Bf16RoundingOnFirstUseMatchesTheScalarRounding()
    {
        var values = new[] { 1f, -2.5f, 3.14159265f, 1e-20f, -65504f, float.NaN, 0.1f, 1.00390625f };
        var f32 = HostTensor.FromArray(values, 2, 4);
        var rounded = f32.ToBf16Deferred();
        Assert.False(rounded.IsMaterialised);
        Assert.Equal(values.Select(BFloat16.FromSingle), rounded.AsSpan<ushort>().ToArray());
        Assert.True(rounded.IsMaterialised);
        Assert.Same(rounded, rounded.ToBf16Deferred());
        Assert.Same(f32, f32.ToF32Deferred());
    }
}
