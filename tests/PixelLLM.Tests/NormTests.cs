using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class NormTests
{
    private static HostTensor Offset(HostTensor t, float offset)
    {
        var v = t.ToFloatArray();
        for (int i = 0; i < v.Length; i++) v[i] += offset;
        return HostTensor.FromArray(v, t.Shape.ToArray());
    }

    /// <summary>Naive float64 layer norm over the last dim of (rows, width).</summary>
    private static double[] LayerNormReference(float[] x, int width, float[]? w, float[]? b, double eps)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / width; r++)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < width; i++) mean += x[r * width + i];
            mean /= width;
            for (int i = 0; i < width; i++) variance += Math.Pow(x[r * width + i] - mean, 2);
            variance /= width;
            for (int i = 0; i < width; i++)
                y[r * width + i] = (x[r * width + i] - mean) / Math.Sqrt(variance + eps) * (w?[i] ?? 1.0) + (b?[i] ?? 0.0);
        }
        return y;
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void LayerNormMatchesFloat64(bool hasWeight, bool hasBias)
    {
        var rng = new Random(1);
        var x = OpHarness.Random(rng, [3, 7, 37], 3f);
        var w = OpHarness.Random(rng, [37]);
        var b = OpHarness.Random(rng, [37]);
        var inputs = new List<HostTensor> { x };
        if (hasWeight) inputs.Add(w);
        if (hasBias) inputs.Add(b);
        var y = OpHarness.Run(new LayerNormOp(1e-5f, hasWeight, hasBias), [.. inputs]);
        var expected = LayerNormReference(x.ToFloatArray(), 37, hasWeight ? w.ToFloatArray() : null, hasBias ? b.ToFloatArray() : null, 1e-5);
        OpHarness.AssertClose(expected, y);
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(1031)]
    [InlineData(2048)]
    [InlineData(4096)]
    public void LayerNormStaysWithin1e5OfFloat64OnOffsetRows(int width)
    {
        var rng = new Random(width);
        var x = Offset(OpHarness.Random(rng, [5, width]), 100f);
        var w = OpHarness.Random(rng, [width]);
        var b = OpHarness.Random(rng, [width]);
        var y = OpHarness.Run(new LayerNormOp(1e-6f), x, w, b);
        OpHarness.AssertClose(LayerNormReference(x.ToFloatArray(), width, w.ToFloatArray(), b.ToFloatArray(), 1e-6), y, atol: 1e-5, rtol: 1e-5);
    }

    /// <summary>
    /// Rows padded to an aligned length: the first Width elements normalise exactly like an unpadded row of Width, whatever
    /// the padding holds (noise here), and the padding comes out zero.
    /// </summary>
    [Theory]
    [InlineData(2730, 2736)]
    [InlineData(37, 40)]
    [InlineData(5, 5)]
    public void LayerNormOfPaddedRowsNormalisesTheWidthAndZeroesThePadding(int width, int stride)
    {
        var rng = new Random(width);
        var padded = OpHarness.Random(rng, [2, 3, stride], 3f);
        var (w, b) = (OpHarness.Random(rng, [width]), OpHarness.Random(rng, [width]));
        var y = OpHarness.Run(new LayerNormOp(1e-5f, Width: width), padded, w, b).ToFloatArray();
        var expected = OpHarness.Run(new LayerNormOp(1e-5f), OpHarness.Columns(padded, 0, width), w, b).ToFloatArray();
        for (int r = 0; r < 6; r++)
        {
            Assert.Equal(expected.AsSpan(r * width, width).ToArray(), y.AsSpan(r * stride, width).ToArray());
            Assert.All(y.AsSpan(r * stride + width, stride - width).ToArray(), v => Assert.Equal(0f, v));
        }
        Assert.Throws<GraphBuildException>(() => OpHarness.Run(new LayerNormOp(1e-5f, Width: stride + 1), padded, w, b));
    }

    [Fact]
    public void LayerNormEpsDominatesTinyVariance()
    {
        var rng = new Random(2);
        var x = OpHarness.Random(rng, [4, 33], 1e-3f);
        foreach (var eps in new[] { 1e-6f, 1e-2f })
        {
            var y = OpHarness.Run(new LayerNormOp(eps, false, false), x);
            OpHarness.AssertClose(LayerNormReference(x.ToFloatArray(), 33, null, null, eps), y, what: $"eps {eps}");
        }
        // A constant row has zero variance: the output is exactly the bias.
        var constant = HostTensor.FromArray(Enumerable.Repeat(7.25f, 19).ToArray(), 1, 19);
        var bias = OpHarness.Random(rng, [19]);
        var z = OpHarness.Run(new LayerNormOp(1e-5f, false, true), constant, bias);
        OpHarness.AssertClose(bias.ToFloatArray().Select(v => (double)v).ToArray(), z, atol: 0, rtol: 0);
    }

    [Theory]
    [InlineData(2, 5, 9, 11, 0f)]
    [InlineData(1, 16, 13, 23, 50f)]
    [InlineData(3, 1, 4, 4, 0f)]
    public void LayerNorm2dNormalisesChannelsPerPixel(int n, int c, int h, int w, float offset)
    {
        var rng = new Random(n * 1000 + c);
        var x = Offset(OpHarness.Random(rng, [n, c, h, w], 2f), offset);
        var weight = OpHarness.Random(rng, [c]);
        var bias = OpHarness.Random(rng, [c]);
        var y = OpHarness.Run(new LayerNorm2dOp(1e-6f), x, weight, bias);

        var xs = x.ToFloatArray();
        var (ws, bs) = (weight.ToFloatArray(), bias.ToFloatArray());
        var expected = new double[xs.Length];
        int plane = h * w;
        for (int img = 0; img < n; img++)
            for (int p = 0; p < plane; p++)
            {
                double mean = 0, variance = 0;
                for (int ch = 0; ch < c; ch++) mean += xs[(img * c + ch) * plane + p];
                mean /= c;
                for (int ch = 0; ch < c; ch++) variance += Math.Pow(xs[(img * c + ch) * plane + p] - mean, 2);
                variance /= c;
                for (int ch = 0; ch < c; ch++)
                {
                    int i = (img * c + ch) * plane + p;
                    expected[i] = (xs[i] - mean) / Math.Sqrt(variance + 1e-6) * ws[ch] + bs[ch];
                }
            }
        OpHarness.AssertClose(expected, y);
    }

    [Theory]
    [InlineData(1e-6f, 1f)]
    [InlineData(1e-6f, 1e-3f)]
    [InlineData(1e-2f, 1e-3f)]
    public void RmsNormMatchesT5Formula(float eps, float scale)
    {
        var rng = new Random(3);
        var x = OpHarness.Random(rng, [3, 7, 37], scale);
        var w = OpHarness.Random(rng, [37]);
        var y = OpHarness.Run(new RmsNormOp(eps), x, w);
        var (xs, ws) = (x.ToFloatArray(), w.ToFloatArray());
        var expected = new double[xs.Length];
        for (int r = 0; r < xs.Length / 37; r++)
        {
            double meanSq = 0;
            for (int i = 0; i < 37; i++) meanSq += (double)xs[r * 37 + i] * xs[r * 37 + i];
            meanSq /= 37;
            for (int i = 0; i < 37; i++) expected[r * 37 + i] = xs[r * 37 + i] / Math.Sqrt(meanSq + eps) * ws[i];
        }
        OpHarness.AssertClose(expected, y);
    }

    [Theory]
    [InlineData(new[] { 2, 5, 7, 12 }, 4, 0f)]
    [InlineData(new[] { 1, 9, 32 }, 32, 0f)]
    [InlineData(new[] { 3, 24 }, 6, 0f)]
    [InlineData(new[] { 2, 3, 5 }, 1, 10f)]
    [InlineData(new[] { 1, 40, 40, 64 }, 8, 100f)]
    public void GroupNormChannelsLastMatchesFloat64(int[] shape, int groups, float offset)
    {
        var rng = new Random(shape.Sum() + groups);
        int c = shape[^1];
        var x = Offset(OpHarness.Random(rng, shape, 2f), offset);
        var weight = OpHarness.Random(rng, [c]);
        var bias = OpHarness.Random(rng, [c]);
        var y = OpHarness.Run(new GroupNormOp(groups, 1e-6f), x, weight, bias);

        var xs = x.ToFloatArray();
        var (ws, bs) = (weight.ToFloatArray(), bias.ToFloatArray());
        int batch = shape[0], positions = xs.Length / (batch * c), perGroup = c / groups;
        var expected = new double[xs.Length];
        for (int n = 0; n < batch; n++)
            for (int g = 0; g < groups; g++)
            {
                IEnumerable<int> Members() =>
                    from p in Enumerable.Range(0, positions)
                    from ch in Enumerable.Range(g * perGroup, perGroup)
                    select (n * positions + p) * c + ch;
                double mean = Members().Average(i => (double)xs[i]);
                double variance = Members().Average(i => Math.Pow(xs[i] - mean, 2));
                foreach (int i in Members())
                    expected[i] = (xs[i] - mean) / Math.Sqrt(variance + 1e-6) * ws[i % c] + bs[i % c];
            }
        OpHarness.AssertClose(expected, y);
    }
}
