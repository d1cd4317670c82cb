using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class ConvTests
{
    /// <summary>Naive float64 Conv2d, channels-last input, PyTorch (Cout, Cin, kh, kw) weight, zero padding.</summary>
    private static double[] Conv2dReference(HostTensor x, HostTensor w, HostTensor? bias, int stride, int pad, out int[] shape)
    {
        var xv = OpHarness.AsDoubles(x);
        var wv = OpHarness.AsDoubles(w);
        var bv = bias is null ? null : OpHarness.AsDoubles(bias);
        int b = x.Shape[0], h = x.Shape[1], wd = x.Shape[2], cin = x.Shape[3];
        int cout = w.Shape[0], kh = w.Shape[2], kw = w.Shape[3];
        int ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1;
        var y = new double[b * ho * wo * cout];
        for (int n = 0; n < b; n++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                    for (int co = 0; co < cout; co++)
                    {
                        double sum = bv?[co] ?? 0;
                        for (int ci = 0; ci < cin; ci++)
                            for (int dy = 0; dy < kh; dy++)
                                for (int dx = 0; dx < kw; dx++)
                                {
                                    int iy = oy * stride - pad + dy, ix = ox * stride - pad + dx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    sum += xv[((n * h + iy) * wd + ix) * cin + ci] * wv[((co * cin + ci) * kh + dy) * kw + dx];
                                }
                        y[((n * ho + oy) * wo + ox) * cout + co] = sum;
                    }
        shape = [b, ho, wo, cout];
        return y;
    }

    private static void CheckConv2d(int seed, int[] xShape, int cout, int kernel, int stride, int pad, bool withBias)
    {
        var rng = new Random(seed);
        var x = OpHarness.Random(rng, xShape);
        var w = OpHarness.Random(rng, [cout, xShape[3], kernel, kernel]);
        var bias = withBias ? OpHarness.Random(rng, [cout]) : null;
        var op = new Conv2dOp(stride, stride, pad, pad, withBias);
        var y = withBias ? OpHarness.Run(op, x, w, bias!) : OpHarness.Run(op, x, w);
        var expected = Conv2dReference(x, w, bias, stride, pad, out var shape);
        Assert.Equal(shape, y.Shape.ToArray());
        OpHarness.AssertClose(expected, y, what: $"conv k{kernel} s{stride} p{pad}");
    }

    [Fact]
    public void PatchEmbedKernelEqualsStride() => CheckConv2d(1, [2, 24, 40, 3], 37, kernel: 8, stride: 8, pad: 0, withBias: true);

    [Fact]
    public void PatchEmbedWithLeftoverPixels() => CheckConv2d(2, [1, 27, 21, 5], 19, kernel: 4, stride: 4, pad: 0, withBias: true);

    [Fact]
    public void PointwiseWithoutBias() => CheckConv2d(3, [2, 9, 11, 29], 23, kernel: 1, stride: 1, pad: 0, withBias: false);

    [Fact]
    public void PointwiseStrided() => CheckConv2d(4, [1, 9, 11, 13], 7, kernel: 1, stride: 2, pad: 0, withBias: true);

    [Fact]
    public void ThreeByThreePadOneWithoutBias() => CheckConv2d(5, [2, 13, 10, 17], 21, kernel: 3, stride: 1, pad: 1, withBias: false);

    [Fact]
    public void StrideTwoWithPadding() => CheckConv2d(6, [1, 15, 12, 6], 11, kernel: 3, stride: 2, pad: 1, withBias: true);

    [Fact]
    public void LargeEnoughForSeveralChunksAndThreads()
    {
        // 3·3·31 = 279 floats per im2col row → more rows than one scratch block holds, and M·N·K far above the
        // parallel threshold, so blocks, packing and thread splits all run.
        CheckConv2d(7, [2, 70, 66, 31], 45, kernel: 3, stride: 1, pad: 1, withBias: true);
    }

    /// <summary>Naive float64 ConvTranspose2d: each input pixel scatters weight[ci, co, dy, dx]·x into (iy·s+dy, ix·s+dx).</summary>
    private static double[] ConvTransposeReference(HostTensor x, HostTensor w, HostTensor? bias, int stride, out int[] shape)
    {
        var xv = OpHarness.AsDoubles(x);
        var wv = OpHarness.AsDoubles(w);
        var bv = bias is null ? null : OpHarness.AsDoubles(bias);
        int b = x.Shape[0], h = x.Shape[1], wd = x.Shape[2], cin = x.Shape[3];
        int cout = w.Shape[1], kh = w.Shape[2], kw = w.Shape[3];
        int ho = (h - 1) * stride + kh, wo = (wd - 1) * stride + kw;
        var y = new double[b * ho * wo * cout];
        for (int i = 0; i < y.Length; i++) y[i] = bv?[i % cout] ?? 0;
        for (int n = 0; n < b; n++)
            for (int iy = 0; iy < h; iy++)
                for (int ix = 0; ix < wd; ix++)
                    for (int ci = 0; ci < cin; ci++)
                    {
                        double v = xv[((n * h + iy) * wd + ix) * cin + ci];
                        for (int co = 0; co < cout; co++)
                            for (int dy = 0; dy < kh; dy++)
                                for (int dx = 0; dx < kw; dx++)
                                    y[((n * ho + iy * stride + dy) * wo + ix * stride + dx) * cout + co] +=
                                        v * wv[((ci * cout + co) * kh + dy) * kw + dx];
                    }
        shape = [b, ho, wo, cout];
        return y;
    }

    [Theory]
    [InlineData(2, 2, true)]   // SAM's upscaling: taps tile the output exactly
    [InlineData(2, 2, false)]
    [InlineData(3, 2, true)]   // overlapping taps accumulate
    [InlineData(3, 2, false)]
    [InlineData(2, 3, true)]   // gaps between taps hold only the bias
    [InlineData(1, 1, false)]
    public void ConvTranspose(int kernel, int stride, bool withBias)
    {
        var rng = new Random(kernel * 10 + stride);
        var x = OpHarness.Random(rng, [2, 7, 9, 13]);
        var w = OpHarness.Random(rng, [13, 11, kernel, kernel]);
        var bias = withBias ? OpHarness.Random(rng, [11]) : null;
        var op = new ConvTranspose2dOp(stride, withBias);
        var y = withBias ? OpHarness.Run(op, x, w, bias!) : OpHarness.Run(op, x, w);
        var expected = ConvTransposeReference(x, w, bias, stride, out var shape);
        Assert.Equal(shape, y.Shape.ToArray());
        OpHarness.AssertClose(expected, y, what: $"convT k{kernel} s{stride}");
    }

    [Fact]
    public void ConvTransposeToOneChannelWithBias()
    {
        // kh·kw·Cout = 4 tap outputs per pixel: the GEMM takes its few-columns dot-product path.
        var rng = new Random(77);
        var x = OpHarness.Random(rng, [1, 5, 6, 9]);
        var w = OpHarness.Random(rng, [9, 1, 2, 2]);
        var bias = OpHarness.Random(rng, [1]);
        var y = OpHarness.Run(new ConvTranspose2dOp(2, true), x, w, bias);
        OpHarness.AssertClose(ConvTransposeReference(x, w, bias, 2, out _), y, what: "convT to 1 channel");
    }

    [Theory]
    [InlineData(2, 2, 600)]
    [InlineData(3, 2, 200)]
    public void ConvTransposeLargeEnoughForChunksAndThreads(int kernel, int stride, int cout)
    {
        // 2400 input pixels × kh·kw·Cout ≥ 1800 tap outputs each: several scratch blocks, parallel GEMM and scatter.
        var rng = new Random(99 + kernel);
        var x = OpHarness.Random(rng, [1, 48, 50, 40]);
        var w = OpHarness.Random(rng, [40, cout, kernel, kernel]);
        var bias = OpHarness.Random(rng, [cout]);
        var y = OpHarness.Run(new ConvTranspose2dOp(stride, true), x, w, bias);
        OpHarness.AssertClose(ConvTransposeReference(x, w, bias, stride, out _), y, what: "convT large");
    }

    [Fact]
    public void ShapeErrorsThrowGraphBuildException()
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 1, 16, 16, 3);
        Assert.Throws<GraphBuildException>(() => g.Conv2d(x, g.Input("w1", DType.F32, 8, 4, 3, 3)));            // Cin 3 vs 4
        Assert.Throws<GraphBuildException>(() => g.Conv2d(x, g.Input("w2", DType.F32, 8, 3, 17, 17)));          // kernel > input
        Assert.Throws<GraphBuildException>(() => g.Conv2d(x, g.Input("w3", DType.F32, 8, 3, 3, 3), g.Input("b3", DType.F32, 7)));
        Assert.Throws<GraphBuildException>(() => g.Conv2d(g.Input("flat", DType.F32, 16, 16, 3), g.Input("w4", DType.F32, 8, 3, 3, 3)));
        Assert.Throws<GraphBuildException>(() => g.Apply(new Conv2dOp(0, 0, 0, 0, false), x, g.Input("w5", DType.F32, 8, 3, 3, 3)));
        Assert.Throws<GraphBuildException>(() => g.ConvTranspose2d(x, g.Input("t1", DType.F32, 4, 8, 2, 2)));    // Cin 3 vs 4
        Assert.Throws<GraphBuildException>(() => g.ConvTranspose2d(x, g.Input("t2", DType.F32, 3, 8, 2, 2), g.Input("tb", DType.F32, 3)));
        Assert.Equal([1, 32, 32, 8], g.ConvTranspose2d(x, g.Input("t3", DType.F32, 3, 8, 2, 2)).Shape.ToArray());
    }
}
