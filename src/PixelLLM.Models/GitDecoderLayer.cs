using PixelLLM.Models.Common;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// One post-LayerNorm BERT layer of the GIT decoder, split so the cached paths can feed their own keys and values:
/// a = LN_attn(x + Dense_o(MHA(x))); y = LN_out(a + Dense_2(GELU_exact(Dense_1(a)))).
/// </summary>
internal static class GitDecoderLayer
{
    public static Tensor Forward(ParamScope layer, GitDecoderConfig c, Tensor x, Tensor? mask)
    {
        var (q, k, v) = Project(layer, x);
        return Finish(layer, c, x, Attend(layer.Graph, c, q, k, v, mask));
    }

    /// <summary>The query, key and value projections (all with bias) of <paramref name="x"/>.</summary>
    public static (Tensor Q, Tensor K, Tensor V) Project(ParamScope layer, Tensor x)
    {
        var g = layer.Graph;
        var a = layer.Sub("attention");
        return (g.Linear(x, a["query.weight"], a["query.bias"]),
                g.Linear(x, a["key.weight"], a["key.bias"]),
                g.Linear(x, a["value.weight"], a["value.bias"]));
    }

    /// <summary>Scaled dot-product attention; masked keys get −∞ (no row is ever fully masked: visual keys are always valid).</summary>
    public static Tensor Attend(Graph g, GitDecoderConfig c, Tensor q, Tensor k, Tensor v, Tensor? mask) =>
        g.Attention(q, k, v, c.NumHeads, c.AttentionScale, mask: mask, maskBias: float.NegativeInfinity);

    /// <summary>Everything after the attention core: output dense + residual + LN, then the GELU feed-forward + residual + LN.</summary>
    public static Tensor Finish(ParamScope layer, GitDecoderConfig c, Tensor x, Tensor attended)
    {
        var g = layer.Graph;
        // The residual adds ride in the dense layers' epilogues.
        var o = g.Linear(attended, layer["attention.output.weight"], layer["attention.output.bias"], residual: x);
        var a = g.LayerNorm(o, layer["attention_norm.weight"], layer["attention_norm.bias"], c.AttentionEps);
        var h = g.Gelu(g.Linear(a, layer["intermediate.weight"], layer["intermediate.bias"]));
        var f = g.Linear(h, layer["output.weight"], layer["output.bias"], residual: a);
        return g.LayerNorm(f, layer["output_norm.weight"], layer["output_norm.bias"], c.OutputEps);
    }
}
