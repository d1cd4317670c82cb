using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// GridAttentionOp on the CPU against segment-anything's Attention written out in float64: pad the map (pad tokens take
/// the pad row, or zeros), cut windows, score Scale·q·k plus q·relH[i − m + S − 1] + q·relW[j − n + S − 1] (unscaled q),
/// softmax over every key of the window pad keys included, and keep the outputs of real tokens only.
/// </summary>
public class GridAttentionTests
{
    [Theory]
    [InlineData(2, 5, 7, 2, 4, 3, true, true)]     // windows over an odd map, padded on both sides with the pad row
    [InlineData(1, 4, 6, 3, 6, 0, false, true)]    // the whole grid, non-square
    [InlineData(1, 6, 9, 2, 8, 4, false, true)]    // zero padding (no pad row)
    [InlineData(1, 5, 4, 2, 5, 3, true, false)]    // no rel-pos
    [InlineData(1, 24, 24, 2, 16, 14, true, true)] // SAM's geometry: four 14×14 windows over 24², pad on two sides
    public void MatchesSamAttentionInFloat64(int batch, int height, int width, int heads, int dim, int window, bool padRow, bool relPos)
    {
        var rng = new Random(batch * 1000 + height * 31 + width * 7 + dim + window);
        int c = heads * dim, spanH = window > 0 ? window : height, spanW = window > 0 ? window : width;
        float scale = 1f / MathF.Sqrt(dim);
        var qkv = OpHarness.Random(rng, [batch, height, width, 3 * c]);
        var pad = padRow ? OpHarness.Random(rng, [3 * c]) : null;
        var relH = relPos ? OpHarness.Random(rng, [2 * spanH - 1, dim], 0.5f) : null;
        var relW = relPos ? OpHarness.Random(rng, [2 * spanW - 1, dim], 0.5f) : null;
        var inputs = new[] { qkv, pad, relH, relW }.OfType<HostTensor>().ToArray();
        var got = OpHarness.Run(new GridAttentionOp(heads, scale, window, padRow, relPos), inputs);
        Assert.Equal(new Shape(batch, height, width, c), got.Shape);

        var x = OpHarness.AsDoubles(qkv);
        double[]? p = pad is null ? null : OpHarness.AsDoubles(pad);
        double[]? th = relH is null ? null : OpHarness.AsDoubles(relH), tw = relW is null ? null : OpHarness.AsDoubles(relW);
        var expected = new double[batch * height * width * c];
        int windowsH = (height + spanH - 1) / spanH, windowsW = (width + spanW - 1) / spanW, tokens = spanH * spanW;
        double Value(int b, int py, int px, int part, int h, int d) =>
            py < height && px < width ? x[((b * height + py) * width + px) * 3 * c + part * c + h * dim + d]
            : p is null ? 0 : p[part * c + h * dim + d];
        var scores = new double[tokens];
        for (int b = 0; b < batch; b++)
        for (int wy = 0; wy < windowsH; wy++)
        for (int wx = 0; wx < windowsW; wx++)
        for (int h = 0; h < heads; h++)
        for (int qi = 0; qi < tokens; qi++)
        {
            int i = qi / spanW, j = qi % spanW, py = wy * spanH + i, px = wx * spanW + j;
            if (py >= height || px >= width) continue; // a pad query's output is dropped
            double max = double.NegativeInfinity;
            for (int kj = 0; kj < tokens; kj++)
            {
                int m = kj / spanW, n = kj % spanW, ky = wy * spanH + m, kx = wx * spanW + n;
                double dot = 0, terms = 0;
                for (int d = 0; d < dim; d++)
                {
                    double q = Value(b, py, px, 0, h, d);
                    dot += q * Value(b, ky, kx, 1, h, d);
                    if (th is not null) terms += q * (th[(i - m + spanH - 1) * dim + d] + tw![(j - n + spanW - 1) * dim + d]);
                }
                scores[kj] = scale * dot + terms;
                max = Math.Max(max, scores[kj]);
            }
            double sum = 0;
            for (int kj = 0; kj < tokens; kj++) sum += scores[kj] = Math.Exp(scores[kj] - max);
            for (int d = 0; d < dim; d++)
            {
                double o = 0;
                for (int kj = 0; kj < tokens; kj++) o += scores[kj] * Value(b, wy * spanH + kj / spanW, wx * spanW + kj % spanW, 2, h, d);
                expected[((b * height + py) * width + px) * c + h * dim + d] = o / sum;
            }
        }
        OpHarness.AssertClose(expected, got, 1e-5, 1e-4);
    }

    [Fact]
    public void RejectsTablesOfTheWrongLengthAndAPadRowWithoutWindows()
    {
        var g = new Graph();
        var qkv = g.Input("qkv", DType.F32, 1, 5, 7, 48);
        var relH = g.Input("h", DType.F32, 5, 8);
        var wrong = g.Input("w", DType.F32, 7, 8);
        var e = Assert.Throws<GraphBuildException>(() => g.GridAttention(qkv, 2, 0.3f, 3, null, relH, wrong));
        Assert.Contains("rel_pos_w (7, 8) must be (5, 8)", e.Message);
        var pad = g.Input("pad", DType.F32, 48);
        var whole = Assert.Throws<GraphBuildException>(() => g.GridAttention(qkv, 2, 0.3f, 0, pad, null, null));
        Assert.Contains("without a window", whole.Message);
        var odd = g.Input("odd", DType.F32, 1, 5, 7, 47);
        Assert.Contains("3 equal widths", Assert.Throws<GraphBuildException>(() => g.GridAttention(odd, 2, 0.3f, 3, null, null, null)).Message);
    }
}
