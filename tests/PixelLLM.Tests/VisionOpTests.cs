using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class VisionOpTests
{
    [Theory]
    [InlineData(2, 7, 3, 6, 1)]    // EVA02 layout: a cls token passes through
    [InlineData(1, 5, 2, 20, 0)]   // vector chunks plus a scalar tail
    [InlineData(2, 257, 16, 64, 1)] // real head size, parallel path
    public void RopeRotatesInterleavedPairs(int batch, int tokens, int heads, int dim, int start)
    {
        var rng = new Random(tokens * dim);
        var x = OpHarness.Random(rng, [batch, tokens, heads * dim]);
        var sin = OpHarness.Random(rng, [tokens - start, dim]);
        var cos = OpHarness.Random(rng, [tokens - start, dim]);
        var (xs, ss, cs) = (OpHarness.AsDoubles(x), OpHarness.AsDoubles(sin), OpHarness.AsDoubles(cos));
        var expected = (double[])xs.Clone();
        for (int b = 0; b < batch; b++)
        for (int t = start; t < tokens; t++)
        for (int h = 0; h < heads; h++)
        for (int c = 0; c < dim; c++)
        {
            int at = (b * tokens + t) * heads * dim + h * dim + c, table = (t - start) * dim + c;
            double rotated = c % 2 == 0 ? -xs[at + 1] : xs[at - 1];
            expected[at] = xs[at] * cs[table] + rotated * ss[table];
        }
        OpHarness.AssertClose(expected, OpHarness.Run(new RopeOp(heads, start), x, sin, cos));
    }

    [Theory]
    [InlineData(2, 10, 10, 3, 4)]  // padding on both sides
    [InlineData(1, 10, 7, 2, 4)]   // non-square grid
    [InlineData(2, 8, 12, 3, 4)]   // no padding
    [InlineData(1, 70, 64, 64, 14)] // SAM-like window, parallel path
    public void WindowPartitionPadsAndRoundTrips(int batch, int height, int width, int channels, int window)
    {
        var x = OpHarness.Random(new Random(height * width), [batch, height, width, channels]);
        var xs = OpHarness.AsDoubles(x);
        int rows = (height + window - 1) / window, cols = (width + window - 1) / window;
        var expected = new double[batch * rows * cols * window * window * channels];
        for (int b = 0; b < batch; b++)
        for (int wr = 0; wr < rows; wr++)
        for (int wc = 0; wc < cols; wc++)
        for (int r = 0; r < window; r++)
        for (int c = 0; c < window; c++)
        {
            int py = wr * window + r, px = wc * window + c;
            if (py >= height || px >= width) continue; // padding stays zero
            for (int ch = 0; ch < channels; ch++)
                expected[((((b * rows + wr) * cols + wc) * window + r) * window + c) * channels + ch] =
                    xs[((b * height + py) * width + px) * channels + ch];
        }
        var windows = OpHarness.Run(new WindowPartitionOp(window), x);
        Assert.Equal(new Shape(batch * rows * cols, window, window, channels), windows.Shape);
        OpHarness.AssertClose(expected, windows, 0, 0);

        var back = OpHarness.Run(new WindowUnpartitionOp(window, height, width), windows);
        Assert.Equal(x.Shape, back.Shape);
        OpHarness.AssertClose(xs, back, 0, 0);
    }

    [Theory]
    [InlineData(5, 7, 3, 4, 6)]   // padding on both sides, odd widths
    [InlineData(6, 6, 3, 5, 3)]   // no padding: the pad row is never read
    public void PartitionWithThePadRowCommutesWithALinear(int height, int width, int window, int channels, int outFeatures)
    {
        // SAM's encoder relies on this: the qkv projection on the H·W pixels, then windows padded with its bias, equals
        // the reference's zero-padded windows put through the projection.
        var rng = new Random(height * 31 + width);
        var x = OpHarness.Random(rng, [1, height, width, channels]);
        var w = OpHarness.Random(rng, [outFeatures, channels]);
        var bias = OpHarness.Random(rng, [outFeatures]);

        var reference = OpHarness.Run(new LinearOp(true), OpHarness.Run(new WindowPartitionOp(window), x), w, bias);
        var padded = OpHarness.Run(new WindowPartitionOp(window, HasPadRow: true), OpHarness.Run(new LinearOp(true), x, w, bias), bias);

        Assert.Equal(reference.Shape, padded.Shape);
        OpHarness.AssertClose(OpHarness.AsDoubles(reference), padded, 0, 0);
    }

    [Fact]
    public void PadRowMustMatchTheChannels()
    {
        var g = new PixelLLM.Runtime.Graphs.Graph();
        var x = g.Input("x", DType.F32, [1, 5, 5, 4]);
        var pad = g.Input("pad", DType.F32, [5]);
        var e = Assert.ThrowsAny<Exception>(() => g.Apply(new WindowPartitionOp(3, HasPadRow: true), x, pad));
        Assert.Contains("pad row", e.Message);
    }

    [Fact]
    public void WindowUnpartitionIgnoresPadding()
    {
        // Garbage in the padded cells (as attention leaves there) must not leak into the cropped result.
        var windows = OpHarness.Random(new Random(3), [2 * 9, 4, 4, 3]);
        var ws = OpHarness.AsDoubles(windows);
        var expected = new double[2 * 10 * 10 * 3];
        for (int b = 0; b < 2; b++)
        for (int py = 0; py < 10; py++)
        for (int px = 0; px < 10; px++)
        for (int ch = 0; ch < 3; ch++)
            expected[((b * 10 + py) * 10 + px) * 3 + ch] = ws[((((b * 3 + py / 4) * 3 + px / 4) * 4 + py % 4) * 4 + px % 4) * 3 + ch];
        OpHarness.AssertClose(expected, OpHarness.Run(new WindowUnpartitionOp(4, 10, 10), windows), 0, 0);
    }

    [Theory]
    [InlineData(2, 3, 5, 8, 3, 6, 7)]   // Qh ≠ Kh, Qw ≠ Kw, non-square grids
    [InlineData(1, 2, 16, 5, 4, 5, 4)]  // equal query and key grids, vector-width head
    [InlineData(1, 2, 64, 14, 14, 14, 14)] // SAM window attention, parallel path
    public void RelPosBiasMatchesNaiveReference(int batch, int heads, int dim, int qh, int qw, int kh, int kw)
    {
        var rng = new Random(qh * 100 + kw);
        var q = OpHarness.Random(rng, [batch, qh * qw, heads * dim]);
        var relH = OpHarness.Random(rng, [2 * Math.Max(qh, kh) - 1, dim]);
        var relW = OpHarness.Random(rng, [2 * Math.Max(qw, kw) - 1, dim]);
        var (qs, hs, ws) = (OpHarness.AsDoubles(q), OpHarness.AsDoubles(relH), OpHarness.AsDoubles(relW));
        // The terms per query token: Kh products with rel_h rows, then Kw with rel_w rows.
        var expected = new double[batch * heads * qh * qw * (kh + kw)];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < qh; i++)
        for (int j = 0; j < qw; j++)
        for (int t = 0; t < kh + kw; t++)
        {
            int row = t < kh ? SamRelIndex(i, t, qh, kh) : SamRelIndex(j, t - kh, qw, kw);
            var table = t < kh ? hs : ws;
            double sum = 0;
            for (int c = 0; c < dim; c++) sum += qs[(b * qh * qw + i * qw + j) * heads * dim + h * dim + c] * table[row * dim + c];
            expected[(((b * heads + h) * qh + i) * qw + j) * (kh + kw) + t] = sum;
        }
        var got = OpHarness.Run(new RelPosBiasOp(heads, qh, qw, kh, kw), q, relH, relW);
        Assert.Equal(new Shape(batch, heads, qh * qw, kh + kw), got.Shape);
        OpHarness.AssertClose(expected, got);
    }

    /// <summary>
    /// RoPE over the first 2C columns of packed q | k | v rows (2·H heads) rotates q and k exactly as two RoPEs over q and k
    /// alone would, and passes v through.
    /// </summary>
    [Fact]
    public void RopeOfPackedQkvRotatesQAndKAndPassesVThrough()
    {
        var rng = new Random(6);
        int heads = 2, dim = 8, width = heads * dim, tokens = 5;
        var qkv = OpHarness.Random(rng, [2, tokens, 3 * width]);
        var (sin, cos) = (OpHarness.Random(rng, [tokens - 1, dim]), OpHarness.Random(rng, [tokens - 1, dim]));
        HostTensor Part(int part) => OpHarness.Columns(qkv, part * width, width);
        var packed = OpHarness.Run(new RopeOp(2 * heads, 1, RotatedWidth: 2 * width), qkv, sin, cos).ToFloatArray();
        var q = OpHarness.Run(new RopeOp(heads, 1), Part(0), sin, cos).ToFloatArray();
        var k = OpHarness.Run(new RopeOp(heads, 1), Part(1), sin, cos).ToFloatArray();
        var v = Part(2).ToFloatArray();
        for (int row = 0; row < 2 * tokens; row++)
        {
            Assert.Equal(q.AsSpan(row * width, width).ToArray(), packed.AsSpan(row * 3 * width, width).ToArray());
            Assert.Equal(k.AsSpan(row * width, width).ToArray(), packed.AsSpan(row * 3 * width + width, width).ToArray());
            Assert.Equal(v.AsSpan(row * width, width).ToArray(), packed.AsSpan(row * 3 * width + 2 * width, width).ToArray());
        }
    }

    /// <summary>The terms from the q third of packed q | k | v rows equal those from q alone, bit for bit.</summary>
    [Fact]
    public void RelPosBiasOfPackedQkvEqualsThatOfTheQueryAlone()
    {
        var rng = new Random(4);
        int heads = 2, dim = 8, width = heads * dim, tokens = 3 * 5;
        var qkv = OpHarness.Random(rng, [2, tokens, 3 * width]);
        var (relH, relW) = (OpHarness.Random(rng, [5, dim]), OpHarness.Random(rng, [9, dim]));
        var packed = OpHarness.Run(new RelPosBiasOp(heads, 3, 5, 3, 5, PackedQkv: true), qkv, relH, relW);
        var alone = OpHarness.Run(new RelPosBiasOp(heads, 3, 5, 3, 5), OpHarness.Columns(qkv, 0, width), relH, relW);
        Assert.Equal(alone.ToFloatArray(), packed.ToFloatArray());
    }

    /// <summary>
    /// The table rows SAM picks, observed through the op: q = e₀, relH row r = r, relW row r = 1000·r, so the terms are
    /// idxH and 1000·idxW. Expected tables come from segment-anything's get_rel_pos in PyTorch 1.13:
    ///   qc = torch.arange(q)[:, None] * max(k / q, 1.0); kc = torch.arange(k)[None, :] * max(q / k, 1.0)
    ///   ((qc - kc) + (k - 1) * max(q / k, 1.0)).long().flatten()
    /// (8, 6) is a case where float32 coordinates pick different rows than exact arithmetic (e.g. [0, 2] is 3, not 4).
    /// </summary>
    [Fact]
    public void RelPosIndexMatchesSamFloat32Arithmetic()
    {
        int[] rows8x6 = [6, 5, 3, 2, 1, 0, 7, 6, 5, 3, 2, 0, 8, 7, 6, 4, 3, 1, 9, 8, 7, 5, 4, 2, 10, 9, 8, 6, 5, 3,
            11, 10, 9, 7, 6, 4, 12, 11, 10, 8, 7, 5, 13, 12, 11, 9, 8, 6];
        int[] cols3x7 = [6, 5, 4, 3, 2, 1, 0, 8, 7, 6, 5, 4, 3, 2, 10, 9, 8, 7, 6, 5, 4];
        const int dim = 2;
        var q = new float[8 * 3 * dim];
        for (int t = 0; t < 8 * 3; t++) q[t * dim] = 1;
        var relH = new float[15 * dim];
        for (int r = 0; r < 15; r++) relH[r * dim] = relH[r * dim + 1] = r;
        var relW = new float[13 * dim];
        for (int r = 0; r < 13; r++) relW[r * dim] = relW[r * dim + 1] = 1000 * r;
        var got = OpHarness.Run(new RelPosBiasOp(1, 8, 3, 6, 7),
            HostTensor.FromArray(q, 1, 24, dim), HostTensor.FromArray(relH, 15, dim), HostTensor.FromArray(relW, 13, dim)).ToFloatArray();
        for (int i = 0; i < 8; i++)
        for (int j = 0; j < 3; j++)
        {
            for (int m = 0; m < 6; m++) Assert.Equal(rows8x6[i * 6 + m], got[(i * 3 + j) * 13 + m]);
            for (int n = 0; n < 7; n++) Assert.Equal(1000 * cols3x7[j * 7 + n], got[(i * 3 + j) * 13 + 6 + n]);
        }
    }

    /// <summary>get_rel_pos's index, with its float32 coordinates (PyTorch's default dtype) and truncating cast.</summary>
    private static int SamRelIndex(int query, int key, int queries, int keys)
    {
        float qCoord = query * (float)Math.Max((double)keys / queries, 1.0);
        float kCoord = key * (float)Math.Max((double)queries / keys, 1.0);
        return (int)(qCoord - kCoord + (float)((keys - 1) * Math.Max((double)queries / keys, 1.0)));
    }
}
