using PixelLLM.Models.Common;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// One pre-norm T5 attention sub-layer (self or cross): x plus its branch, added in the output projection's epilogue.
/// The self-attention's bias is <see cref="T5.PositionBias"/>'s, one value per distance.
/// With <c>stacked</c> (the encoder's self-attention) q, k and v are one GEMM over their stacked weights, read packed by
/// the attention. The decoder keeps them apart: the decode step's fused ops read the same weights unstacked, and a
/// stacked copy would hold them twice.
/// </summary>
internal static class T5Attention
{
    /// <param name="crossKeyValues">a cross-attention's keys and values (B, Lm, inner), already projected from the memory
    /// (the KV decoder's prefill holds them): used instead of projecting <paramref name="memory"/>, which is then null.</param>
    public static Tensor Block(ParamScope layer, string kind, T5Config c, Tensor x, Tensor? memory, Tensor? bias, Tensor? mask, bool causal,
        bool stacked = false, (Tensor Key, Tensor Value)? crossKeyValues = null)
    {
        var g = layer.Graph;
        var n = g.RmsNorm(x, layer["layer_norm.weight"], c.Eps);
        var a = layer.Sub(kind);
        // T5 folds 1/√d into its initialisation, so scores are unscaled; masks add MaskBias like the reference's additive mask.
        Tensor o;
        if (stacked && memory is null)
            o = g.PackedAttention(g.Linear(n, a.Stacked(["q.weight", "k.weight", "v.weight"], [c.Inner, c.DModel])), c.NumHeads, 1f, bias,
                mask: mask, causal: causal, maskBias: c.MaskBias, biasByDistance: bias is not null);
        else
        {
            var source = memory ?? n;
            var q = g.Linear(n, a["q.weight"]);
            var (k, v) = crossKeyValues ?? (g.Linear(source, a["k.weight"]), g.Linear(source, a["v.weight"]));
            o = g.Attention(q, k, v, c.NumHeads, 1f, bias, mask, causal, c.MaskBias, biasByDistance: bias is not null);
        }
        return g.Linear(o, a["o.weight"], residual: x);
    }
}
