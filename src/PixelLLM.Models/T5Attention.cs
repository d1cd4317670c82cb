using PixelLLM.Models.Common;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>One pre-norm T5 attention sub-layer (self or cross): x plus its branch, added in the output projection's epilogue.</summary>
internal static class T5Attention
{
    public static Tensor Block(ParamScope layer, string kind, T5Config c, Tensor x, Tensor? memory, Tensor? bias, Tensor? mask, bool causal)
    {
        var g = layer.Graph;
        var n = g.RmsNorm(x, layer["layer_norm.weight"], c.Eps);
        var a = layer.Sub(kind);
        var source = memory ?? n;
        var q = g.Linear(n, a["q.weight"]);
        var k = g.Linear(source, a["k.weight"]);
        var v = g.Linear(source, a["v.weight"]);
        // T5 folds 1/√d into its initialisation, so scores are unscaled; masks add MaskBias like the reference's additive mask.
        var o = g.Attention(q, k, v, c.NumHeads, 1f, bias, mask, causal, c.MaskBias);
        return g.Linear(o, a["o.weight"], residual: x);
    }
}
