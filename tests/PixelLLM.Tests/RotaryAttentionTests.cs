using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// RotaryAttentionOp on the CPU against EVA02's attention written out in float64: q and k of each packed row rotated
/// pair by pair (timm's interleaved RoPE; prefix tokens unrotated, v never), then softmax(Scale·q·kᵀ)·v per head.
/// </summary>
public class RotaryAttentionTests
{
    [Theory]
    [InlineData(2, 9, 3, 8, 1)]    // a cls token
    [InlineData(1, 20, 2, 6, 0)]   // no prefix
    [InlineData(1, 50, 4, 16, 2)]  // two prefix tokens (cls + a register)
    public void MatchesRopeThenAttentionInFloat64(int batch, int tokens, int heads, int dim, int start)
    {
        var rng = new Random(batch * 100 + tokens + dim * 7 + start);
        int c = heads * dim;
        float scale = 1f / MathF.Sqrt(dim);
        var qkv = OpHarness.Random(rng, [batch, tokens, 3 * c]);
        var sin = OpHarness.Random(rng, [tokens - start, dim]);
        var cos = OpHarness.Random(rng, [tokens - start, dim]);
        var got = OpHarness.Run(new RotaryAttentionOp(heads, scale, start), qkv, sin, cos);
        Assert.Equal(new Shape(batch, tokens, c), got.Shape);

        var (x, sn, cs) = (OpHarness.AsDoubles(qkv), OpHarness.AsDoubles(sin), OpHarness.AsDoubles(cos));
        double Rotated(int b, int t, int part, int h, int d)
        {
            int at = (b * tokens + t) * 3 * c + part * c + h * dim;
            if (part == 2 || t < start) return x[at + d];
            int table = (t - start) * dim + d;
            return d % 2 == 0 ? x[at + d] * cs[table] - x[at + d + 1] * sn[table] : x[at + d] * cs[table] + x[at + d - 1] * sn[table];
        }
        var expected = new double[batch * tokens * c];
        var scores = new double[tokens];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++)
        for (int i = 0; i < tokens; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < tokens; j++)
            {
                double dot = 0;
                for (int d = 0; d < dim; d++) dot += Rotated(b, i, 0, h, d) * Rotated(b, j, 1, h, d);
                max = Math.Max(max, scores[j] = scale * dot);
            }
            double sum = 0;
            for (int j = 0; j < tokens; j++) sum += scores[j] = Math.Exp(scores[j] - max);
            for (int d = 0; d < dim; d++)
            {
                double o = 0;
                for (int j = 0; j < tokens; j++) o += scores[j] * Rotated(b, j, 2, h, d);
                expected[(b * tokens + i) * c + h * dim + d] = o / sum;
            }
        }
        OpHarness.AssertClose(expected, got, 1e-5, 1e-4);
    }

    [Fact]
    public void RejectsTablesThatDoNotCoverTheRotatedTokens()
    {
        var g = new Graph();
        var qkv = g.Input("qkv", DType.F32, 1, 9, 72);
        var table = g.Input("t", DType.F32, 9, 8);
        var e = Assert.Throws<GraphBuildException>(() => g.RotaryAttention(qkv, table, table, 3, 0.3f, startToken: 1));
        Assert.Contains("(8, 8)", e.Message);
        var odd = g.Input("odd", DType.F32, 1, 9, 71);
        Assert.Contains("3 equal widths", Assert.Throws<GraphBuildException>(() => g.RotaryAttention(odd, table, table, 3, 0.3f)).Message);
    }
}
