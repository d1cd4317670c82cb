using PixelLLM.Models.Common;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// One pre-norm T5 attention sub-layer (self or cross): x plus its branch, added in the output projection's epilogue. The
/// projections of one source are one GEMM over their stacked weights, read packed by the attention: q | k | v of the
/// normed x (self), or q of it and k | v of the memory (cross).
/// </summary>
internal static class T5Attention
{
    public static Tensor Block(ParamScope layer, string kind, T5Config c, Tensor x, Tensor? memory, Tensor? bias, Tensor? mask, bool causal)
    {
        var g = layer.Graph;
        var n = g.RmsNorm(x, layer["layer_norm.weight"], c.Eps);
        var a = layer.Sub(kind);
        int[] shape = [c.Inner, c.DModel];
        // T5 folds 1/√d into its initialisation, so scores are unscaled; masks add MaskBias like the reference's additive mask.
        var o = memory is null
            ? g.PackedAttention(g.Linear(n, a.Stacked(["q.weight", "k.weight", "v.weight"], shape)), c.NumHeads, 1f, bias, mask: mask, causal: causal, maskBias: c.MaskBias)
            : g.PackedKvAttention(g.Linear(n, a["q.weight"]), g.Linear(memory, a.Stacked(["k.weight", "v.weight"], shape)), c.NumHeads, 1f, bias, mask, causal, c.MaskBias);
        return g.Linear(o, a["o.weight"], residual: x);
    }
}
