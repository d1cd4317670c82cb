using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class GemmTests
{
    /// <summary>Naive float64 batched matmul with explicit broadcasting of leading dims and stored-transposed operands.</summary>
    private static double[] Reference(HostTensor a, HostTensor b, bool transA, bool transB, double alpha, out int[] shape)
    {
        var av = OpHarness.AsDoubles(a);
        var bv = OpHarness.AsDoubles(b);
        int[] ad = a.Shape.ToArray(), bd = b.Shape.ToArray();
        int m = transA ? ad[^1] : ad[^2], k = transA ? ad[^2] : ad[^1], n = transB ? bd[^2] : bd[^1];
        int rank = Math.Max(ad.Length, bd.Length) - 2;
        int[] aBatch = Pad(ad[..^2], rank), bBatch = Pad(bd[..^2], rank);
        var batch = new int[rank];
        for (int d = 0; d < rank; d++) batch[d] = Math.Max(aBatch[d], bBatch[d]);
        long count = batch.Aggregate(1L, (x, y) => x * y);
        var result = new double[count * m * n];
        for (long flat = 0; flat < count; flat++)
        {
            long rest = flat, aIndex = 0, bIndex = 0, aScale = 1, bScale = 1;
            for (int d = rank - 1; d >= 0; d--)
            {
                long i = rest % batch[d];
                rest /= batch[d];
                aIndex += (aBatch[d] == 1 ? 0 : i) * aScale;
                bIndex += (bBatch[d] == 1 ? 0 : i) * bScale;
                aScale *= aBatch[d];
                bScale *= bBatch[d];
            }
            long aBase = aIndex * m * k, bBase = bIndex * k * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++)
                    {
                        double x = transA ? av[aBase + p * m + i] : av[aBase + i * k + p];
                        double y = transB ? bv[bBase + j * k + p] : bv[bBase + p * n + j];
                        sum += x * y;
                    }
                    result[flat * m * n + i * n + j] = alpha * sum;
                }
        }
        shape = [.. batch, m, n];
        return result;
    }

    private static int[] Pad(int[] dims, int rank) => [.. Enumerable.Repeat(1, rank - dims.Length), .. dims];

    private static void CheckMatMul(int seed, int[] aShape, int[] bShape, bool transA = false, bool transB = false, float alpha = 1f)
    {
        var rng = new Random(seed);
        var a = OpHarness.Random(rng, aShape);
        var b = OpHarness.Random(rng, bShape);
        var y = OpHarness.Run(new MatMulOp(transA, transB, alpha), a, b);
        var expected = Reference(a, b, transA, transB, alpha, out var shape);
        Assert.Equal(shape, y.Shape.ToArray());
        OpHarness.AssertClose(expected, y, what: $"matmul {string.Join('x', aShape)}·{string.Join('x', bShape)} tA={transA} tB={transB}");
    }

    private static int[] Stored(int rows, int cols, bool transposed, params int[] batch) =>
        transposed ? [.. batch, cols, rows] : [.. batch, rows, cols];

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void OddShapesEveryTransposeCombination(bool transA, bool transB)
    {
        CheckMatMul(1, Stored(37, 53, transA), Stored(53, 19, transB), transA, transB, alpha: 0.75f);
        CheckMatMul(2, Stored(37, 53, transA), Stored(53, 67, transB), transA, transB);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void LargeShapesRunBlockedAndParallel(bool transA, bool transB)
    {
        // K = 301 spans two KC blocks (accumulation across blocks), M·N·K is far above the parallel threshold,
        // and neither M nor N is a multiple of any register tile.
        CheckMatMul(3, Stored(257, 301, transA), Stored(301, 129, transB), transA, transB, alpha: -1.5f);
    }

    [Fact]
    public void BatchDimsBroadcast()
    {
        CheckMatMul(4, [3, 1, 37, 53], [2, 53, 19]);
        CheckMatMul(5, [3, 1, 53, 23], [2, 19, 53], transA: true, transB: true, alpha: 0.5f);
        CheckMatMul(6, [2, 37, 53], [3, 1, 53, 41]);
        CheckMatMul(7, [4, 2, 64, 96], [2, 96, 80], alpha: 0.5f); // 8 mid-sized products: one per thread
    }

    [Fact]
    public void TwoDimensionalBSharedAcrossBatchedA()
    {
        CheckMatMul(17, [4, 37, 53], [53, 19]);
        CheckMatMul(8, [2, 3, 37, 53], [19, 53], transB: true, alpha: 2f);
        CheckMatMul(9, [4, 53, 37], [53, 19], transA: true);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void DecodeSizedRows(bool transA, bool transB)
    {
        // M = 1..8 reads A in place (no packing); N = 70 leaves a ragged column strip for every register width.
        foreach (int m in new[] { 1, 2, 7, 8 })
            CheckMatMul(10 + m, Stored(m, 131, transA), Stored(131, 70, transB), transA, transB, alpha: 1.25f);
        CheckMatMul(20, Stored(1, 600, transA), Stored(600, 517, transB), transA, transB);
        CheckMatMul(24, Stored(8, 600, transA), Stored(600, 517, transB), transA, transB); // large enough to split N
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FewColumns(bool transB)
    {
        CheckMatMul(21, [45, 61], Stored(61, 1, transB), transB: transB);
        CheckMatMul(22, [45, 61], Stored(61, 3, transB), transB: transB, alpha: 3f);
        CheckMatMul(23, [2, 61, 300], Stored(61, 2, transB), transA: true, transB: transB);
    }

    private static double[] LinearReference(HostTensor x, HostTensor w, HostTensor? bias)
    {
        var xv = OpHarness.AsDoubles(x);
        var wv = OpHarness.AsDoubles(w);
        var bv = bias is null ? null : OpHarness.AsDoubles(bias);
        int outF = w.Shape[0], inF = w.Shape[1], rows = xv.Length / inF;
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
    [InlineData(new[] { 2, 5, 37 }, 19)]
    [InlineData(new[] { 3, 43, 97 }, 131)]
    [InlineData(new[] { 1, 1, 300 }, 77)]
    [InlineData(new[] { 4, 1, 29 }, 3)]
    [InlineData(new[] { 1, 22, 2100 }, 37)]  // the rerun's 22 rows; K in several packed depth blocks plus a tail
    [InlineData(new[] { 2, 9, 1030 }, 6)]    // 9-row items: the fewest rows per item that take the packed path
    public void LinearOnRank3Input(int[] xShape, int outFeatures)
    {
        var rng = new Random(xShape.Sum() + outFeatures);
        var x = OpHarness.Random(rng, xShape);
        var w = OpHarness.Random(rng, [outFeatures, xShape[^1]]);
        var bias = OpHarness.Random(rng, [outFeatures]);

        var withBias = OpHarness.Run(new LinearOp(true), x, w, bias);
        Assert.Equal([.. xShape[..^1], outFeatures], withBias.Shape.ToArray());
        OpHarness.AssertClose(LinearReference(x, w, bias), withBias, what: "linear+bias");

        var noBias = OpHarness.Run(new LinearOp(false), x, w);
        OpHarness.AssertClose(LinearReference(x, w, null), noBias, what: "linear");
    }

    /// <summary>
    /// The residual epilogue against float64 (decode-sized and GEMM-sized rows, with and without bias), and bit-equal to
    /// Linear followed by Add, which it replaces in T5.
    /// </summary>
    [Theory]
    [InlineData(new[] { 1, 1, 300 }, 77, false)]
    [InlineData(new[] { 4, 29 }, 13, true)]
    [InlineData(new[] { 2, 43, 97 }, 131, true)]
    public void LinearWithResidualAddsTheSkipConnection(int[] xShape, int outFeatures, bool withBias)
    {
        var rng = new Random(xShape.Sum() * 3 + outFeatures);
        var x = OpHarness.Random(rng, xShape);
        var w = OpHarness.Random(rng, [outFeatures, xShape[^1]]);
        var bias = OpHarness.Random(rng, [outFeatures]);
        var residual = OpHarness.Random(rng, [.. xShape[..^1], outFeatures], 3f);
        var y = withBias ? OpHarness.Run(new LinearOp(true, true), x, w, bias, residual) : OpHarness.Run(new LinearOp(false, true), x, w, residual);
        var r = OpHarness.AsDoubles(residual);
        OpHarness.AssertClose(LinearReference(x, w, withBias ? bias : null).Select((v, i) => v + r[i]).ToArray(), y, what: "linear+residual");
        var product = withBias ? OpHarness.Run(new LinearOp(true), x, w, bias) : OpHarness.Run(new LinearOp(false), x, w);
        Assert.Equal(OpHarness.Run(new BinaryOp(BinaryKind.Add), product, residual).ToFloatArray(), y.ToFloatArray());
    }

    /// <summary>RmsNorm then Linear as one op: against float64, and bit-equal to the two ops it replaces in decode steps.</summary>
    [Theory]
    [InlineData(new[] { 1, 1, 300 }, 77)]
    [InlineData(new[] { 4, 29 }, 13)]
    [InlineData(new[] { 2, 43, 97 }, 131)]
    public void RmsNormLinearNormalisesThenProjects(int[] xShape, int outFeatures)
    {
        var rng = new Random(xShape.Sum() * 5 + outFeatures);
        var x = OpHarness.Random(rng, xShape, 4f);
        var g = OpHarness.Random(rng, [xShape[^1]]);
        var w = OpHarness.Random(rng, [outFeatures, xShape[^1]]);
        const float eps = 1e-6f;
        var y = OpHarness.Run(new RmsNormLinearOp(eps), x, g, w);
        Assert.Equal([.. xShape[..^1], outFeatures], y.Shape.ToArray());

        int k = xShape[^1], rows = x.ToFloatArray().Length / k;
        double[] n = RmsNormReference(x, g, eps), ws = OpHarness.AsDoubles(w);
        var expected = new double[rows * outFeatures];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outFeatures; o++)
                for (int i = 0; i < k; i++) expected[r * outFeatures + o] += n[r * k + i] * ws[o * k + i];
        OpHarness.AssertClose(expected, y, what: "rmsnorm+linear");
        var unfused = OpHarness.Run(new LinearOp(false), OpHarness.Run(new RmsNormOp(eps), x, g), w);
        Assert.Equal(unfused.ToFloatArray(), y.ToFloatArray());
    }

    /// <summary>RmsNorm, two products and GeGLU as one op: against float64, and bit-equal to the four ops it replaces.</summary>
    [Theory]
    [InlineData(new[] { 1, 1, 300 }, 77)]
    [InlineData(new[] { 4, 29 }, 13)]
    [InlineData(new[] { 2, 43, 97 }, 131)]
    public void RmsNormGeGluGatesTwoNormalisedProjections(int[] xShape, int hidden)
    {
        var rng = new Random(xShape.Sum() * 7 + hidden);
        var x = OpHarness.Random(rng, xShape, 4f);
        var g = OpHarness.Random(rng, [xShape[^1]]);
        var w = OpHarness.Random(rng, [hidden, xShape[^1]]);
        var up = OpHarness.Random(rng, [hidden, xShape[^1]]);
        const float eps = 1e-6f;
        var y = OpHarness.Run(new RmsNormGeGluOp(eps), x, g, w, up);

        int k = xShape[^1], rows = x.ToFloatArray().Length / k;
        double[] n = RmsNormReference(x, g, eps), ws = OpHarness.AsDoubles(w), us = OpHarness.AsDoubles(up);
        var expected = new double[rows * hidden];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < hidden; o++)
            {
                double a = 0, b = 0;
                for (int i = 0; i < k; i++)
                {
                    a += n[r * k + i] * ws[o * k + i];
                    b += n[r * k + i] * us[o * k + i];
                }
                expected[r * hidden + o] = 0.5 * a * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (a + 0.044715 * a * a * a))) * b;
            }
        OpHarness.AssertClose(expected, y, what: "rmsnorm+geglu");
        var normed = OpHarness.Run(new RmsNormOp(eps), x, g);
        var unfused = OpHarness.Run(new GeGluOp(), OpHarness.Run(new LinearOp(false), normed, w), OpHarness.Run(new LinearOp(false), normed, up));
        Assert.Equal(unfused.ToFloatArray(), y.ToFloatArray());
    }

    /// <summary>x / √(mean(x²) + eps) · g per row, in float64.</summary>
    private static double[] RmsNormReference(HostTensor x, HostTensor g, double eps)
    {
        double[] xs = OpHarness.AsDoubles(x), gs = OpHarness.AsDoubles(g);
        int k = gs.Length;
        var y = new double[xs.Length];
        for (int r = 0; r < xs.Length / k; r++)
        {
            double squares = 0;
            for (int i = 0; i < k; i++) squares += xs[r * k + i] * xs[r * k + i];
            double inv = 1 / Math.Sqrt(squares / k + eps);
            for (int i = 0; i < k; i++) y[r * k + i] = xs[r * k + i] * inv * gs[i];
        }
        return y;
    }

    [Fact]
    public void LinearResidualMustHaveTheOutputShape()
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 3, 8);
        var w = g.Input("w", DType.F32, 5, 8);
        Assert.Throws<GraphBuildException>(() => g.Linear(x, w, residual: g.Input("r", DType.F32, 3, 8)));
        Assert.Equal([3, 5], g.Linear(x, w, residual: g.Input("r2", DType.F32, 3, 5)).Shape.ToArray());
    }

    [Fact]
    public void LinearLargeEnoughToSplitAcrossThreads()
    {
        var rng = new Random(30);
        var x = OpHarness.Random(rng, [2, 150, 260]);
        var w = OpHarness.Random(rng, [333, 260]);
        var bias = OpHarness.Random(rng, [333]);
        OpHarness.AssertClose(LinearReference(x, w, bias), OpHarness.Run(new LinearOp(true), x, w, bias), what: "linear");
    }

    [Fact]
    public void EmptyInnerDimensionGivesZerosOrBias()
    {
        var rng = new Random(31);
        var bias = OpHarness.Random(rng, [5]);
        var y = OpHarness.Run(new LinearOp(true), HostTensor.Zeros(DType.F32, 3, 0), HostTensor.Zeros(DType.F32, 5, 0), bias);
        OpHarness.AssertClose(Enumerable.Range(0, 15).Select(i => (double)bias.AsSpan<float>()[i % 5]).ToArray(), y, what: "K=0 linear");
        var z = OpHarness.Run(new MatMulOp(), HostTensor.Zeros(DType.F32, 2, 4, 0), HostTensor.Zeros(DType.F32, 0, 3));
        OpHarness.AssertClose(new double[24], z, what: "K=0 matmul");
    }

    [Fact]
    public void ShapeErrorsThrowGraphBuildException()
    {
        var g = new Graph();
        var a = g.Input("a", DType.F32, 2, 5, 7);
        var b = g.Input("b", DType.F32, 3, 7, 4);
        var w = g.Input("w", DType.F32, 4, 6);
        Assert.Throws<GraphBuildException>(() => g.MatMul(a, g.Input("k", DType.F32, 6, 4)));           // inner 7 vs 6
        Assert.Throws<GraphBuildException>(() => g.MatMul(a, b));                                       // batch 2 vs 3
        Assert.Throws<GraphBuildException>(() => g.MatMul(a, g.Input("t", DType.F32, 4, 7), transB: false));
        Assert.Throws<GraphBuildException>(() => g.MatMul(g.Input("v", DType.F32, 7), b));              // rank 1
        Assert.Throws<GraphBuildException>(() => g.Linear(a, w));                                        // in 7 vs 6
        Assert.Throws<GraphBuildException>(() => g.Linear(g.Input("x", DType.F32, 3, 6), w, g.Input("bias", DType.F32, 5)));
        Assert.Equal([2, 5, 4], g.MatMul(a, g.Input("t2", DType.F32, 4, 7), transB: true).Shape.ToArray());
    }
}
