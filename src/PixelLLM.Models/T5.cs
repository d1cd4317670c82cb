using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// T5 v1.1 / Flan-T5 sizes and numerics. Parameter names follow Hugging Face's T5ForConditionalGeneration. The
/// feed-forward is Flan-T5's gated GELU(tanh) unless <see cref="FeedForward"/> says otherwise.
/// </summary>
public sealed record T5Config(
    int VocabSize, int DModel, int DKv, int DFf, int NumHeads, int NumLayers, int NumDecoderLayers,
    int RelativeBuckets = 32, int RelativeMaxDistance = 128, float Eps = 1e-6f,
    float MaskBias = -1e10f, bool TieWordEmbeddings = false)
{
    public int Inner => NumHeads * DKv;

    /// <summary>The feed-forward: wo(act(wi_0 x) · wi_1 x) when gated, wo(act(wi x)) when not (HF feed_forward_proj).</summary>
    public T5FeedForward FeedForward { get; init; } = T5FeedForward.GatedGeluTanh;
}

/// <summary>A T5 feed-forward: gated (wi_0, wi_1) or not (wi), and its activation.</summary>
public readonly record struct T5FeedForward(bool Gated, UnaryKind Activation)
{
    /// <summary>T5 v1.1 / Flan-T5: "gated-gelu", GELU in its tanh form on wi_0.</summary>
    public static T5FeedForward GatedGeluTanh => new(true, UnaryKind.GeluTanh);

    /// <summary>
    /// Hugging Face's feed_forward_proj ("relu", "gated-gelu", "gated-silu", …): "gated-" marks the gated form, the rest
    /// names the activation, and "gated-gelu" means the tanh GELU (HF maps it to gelu_new). Others → <see cref="InvalidInputException"/>.
    /// </summary>
    public static T5FeedForward Parse(string proj)
    {
        var parts = proj.Split('-');
        bool gated = parts.Length == 2 && parts[0] == "gated";
        if (parts.Length > 2 || (parts.Length == 2 && !gated))
            throw new InvalidInputException($"T5 feed_forward_proj '{proj}': expected an activation or 'gated-' and one");
        if (proj == "gated-gelu") return GatedGeluTanh;
        var activation = parts[^1] switch
        {
            "relu" => UnaryKind.Relu,
            "gelu" => UnaryKind.Gelu,
            "gelu_new" or "gelu_pytorch_tanh" => UnaryKind.GeluTanh,
            "silu" or "swish" => UnaryKind.Silu,
            "sigmoid" => UnaryKind.Sigmoid,
            "tanh" => UnaryKind.Tanh,
            var other => throw new InvalidInputException(
                $"T5 feed_forward_proj '{proj}': activation '{other}' is not supported (relu, gelu, gelu_new, gelu_pytorch_tanh, silu, swish, sigmoid, tanh)"),
        };
        return new(gated, activation);
    }
}

/// <summary>
/// The T5 encoder–decoder (pre-RMSNorm blocks, gated-GELU(tanh) FFN, unscaled attention with a relative-position bias
/// computed once per stack by its first block, untied LM head without rescaling).
/// </summary>
public static class T5
{
    /// <summary>Encoder over token ids (B, L) I32 with key mask (B, 1, 1, L) U8; returns the final-normed states (B, L, d).</summary>
    public static Tensor Encode(ParamScope p, T5Config c, Tensor ids, Tensor keyMask, Action<int, Tensor>? onHidden = null) =>
        EncodeEmbedded(p, c, p.Graph.Embedding(p["shared.weight"], ids), keyMask, onHidden);

    /// <summary>Encoder over already-embedded inputs (B, L, d) — PixelLLM prepends visual tokens to text embeddings.</summary>
    public static Tensor EncodeEmbedded(ParamScope p, T5Config c, Tensor x, Tensor keyMask, Action<int, Tensor>? onHidden = null)
    {
        var g = p.Graph;
        int length = x.Shape[1];
        var stack = p.Sub("encoder");
        var bias = PositionBias(stack.Sub("block.0.layer.0.SelfAttention"), c, length, length, bidirectional: true);
        onHidden?.Invoke(0, x);
        for (int i = 0; i < c.NumLayers; i++)
        {
            var block = stack.Sub($"block.{i}");
            x = T5Attention.Block(block.Sub("layer.0"), "SelfAttention", c, x, null, bias, keyMask, causal: false, stacked: true);
            x = FeedForward(block.Sub("layer.1"), c, x, stacked: true);
            if (i < c.NumLayers - 1) onHidden?.Invoke(i + 1, x);
        }
        x = g.RmsNorm(x, stack["final_layer_norm.weight"], c.Eps);
        onHidden?.Invoke(c.NumLayers, x);
        return x;
    }

    /// <summary>
    /// Teacher-forced decoder over ids (B, Ld) attending causally to itself (optionally also masked by <paramref name="selfMask"/>
    /// (B, 1, Ld, Ld)) and to <paramref name="memory"/> under <paramref name="memoryMask"/> (B, 1, 1|Ld, Lm). Returns final-normed states.
    /// </summary>
    public static Tensor Decode(ParamScope p, T5Config c, Tensor ids, Tensor memory, Tensor memoryMask, Tensor? selfMask = null, Action<int, Tensor>? onHidden = null) =>
        Decode(p, c, ids, memory, null, memoryMask, selfMask, onHidden);

    /// <summary>
    /// <see cref="Decode(ParamScope, T5Config, Tensor, Tensor, Tensor, Tensor?, Action{int, Tensor}?)"/> with every layer's
    /// cross-attention keys and values given, (B, Lm, inner) each, as the KV decoder's prefill projected them from the memory.
    /// </summary>
    public static Tensor Decode(ParamScope p, T5Config c, Tensor ids, Func<int, (Tensor Key, Tensor Value)> crossKeyValues, Tensor memoryMask,
        Tensor? selfMask = null) =>
        Decode(p, c, ids, null, crossKeyValues, memoryMask, selfMask, null);

    private static Tensor Decode(ParamScope p, T5Config c, Tensor ids, Tensor? memory, Func<int, (Tensor Key, Tensor Value)>? crossKeyValues,
        Tensor memoryMask, Tensor? selfMask, Action<int, Tensor>? onHidden)
    {
        var g = p.Graph;
        var stack = p.Sub("decoder");
        var x = g.Embedding(p["shared.weight"], ids);
        int length = ids.Shape[1];
        var bias = PositionBias(stack.Sub("block.0.layer.0.SelfAttention"), c, length, length, bidirectional: false);
        onHidden?.Invoke(0, x);
        for (int i = 0; i < c.NumDecoderLayers; i++)
        {
            var block = stack.Sub($"block.{i}");
            x = T5Attention.Block(block.Sub("layer.0"), "SelfAttention", c, x, null, bias, selfMask, causal: true);
            x = T5Attention.Block(block.Sub("layer.1"), "EncDecAttention", c, x, memory, null, memoryMask, causal: false,
                crossKeyValues: crossKeyValues?.Invoke(i));
            x = FeedForward(block.Sub("layer.2"), c, x);
            if (i < c.NumDecoderLayers - 1) onHidden?.Invoke(i + 1, x);
        }
        x = g.RmsNorm(x, stack["final_layer_norm.weight"], c.Eps);
        onHidden?.Invoke(c.NumDecoderLayers, x);
        return x;
    }

    /// <summary>Vocabulary logits from final-normed decoder states (rescaled by d^-0.5 only with tied embeddings).</summary>
    public static Tensor Logits(ParamScope p, T5Config c, Tensor hidden)
    {
        var g = p.Graph;
        if (!c.TieWordEmbeddings) return g.Linear(hidden, p["lm_head.weight"]);
        return g.Linear(g.Scale(hidden, 1f / MathF.Sqrt(c.DModel)), p["shared.weight"]);
    }

    /// <summary>
    /// (1, H, Lq + Lk − 1) bias by distance (the attention reads it as (1, H, Lq, Lk)): the block's bucket embedding,
    /// each distance's bucket computed where the bias is written.
    /// </summary>
    internal static Tensor PositionBias(ParamScope attention, T5Config c, int queryLength, int keyLength, bool bidirectional, int queryOffset = 0,
        Tensor? position = null) =>
        attention.Graph.T5PositionBias(attention["relative_attention_bias.weight"], queryLength, keyLength, bidirectional, c.RelativeBuckets,
            c.RelativeMaxDistance, queryOffset, position);

    /// <summary>
    /// x plus the gated-GELU feed-forward of its RMS norm (GeGLU in one op, the residual in wo's epilogue). With
    /// <paramref name="normInProjections"/> (decode steps: one or a few rows) the norm, wi_0, wi_1 and the GeGLU are one op;
    /// with <paramref name="stacked"/> (the encoder, whose weights no step shares) wi_0 and wi_1 are one GEMM over their
    /// stacked weights and the GeGLU reads the two halves of each row.
    /// </summary>
    internal static Tensor FeedForward(ParamScope layer, T5Config c, Tensor x, bool normInProjections = false, bool stacked = false)
    {
        var g = layer.Graph;
        var ff = layer.Sub("DenseReluDense");
        var norm = layer["layer_norm.weight"];
        Tensor hidden;
        if (c.FeedForward != T5FeedForward.GatedGeluTanh)
        {
            // Another feed_forward_proj (T5 v1.0's relu, gated-silu, …): the plain ops.
            var n = g.RmsNorm(x, norm, c.Eps);
            hidden = c.FeedForward.Gated
                ? g.Mul(g.Unary(c.FeedForward.Activation, g.Linear(n, ff["wi_0.weight"])), g.Linear(n, ff["wi_1.weight"]))
                : g.Unary(c.FeedForward.Activation, g.Linear(n, ff["wi.weight"]));
        }
        else if (normInProjections) hidden = g.RmsNormGeGlu(x, norm, c.Eps, ff["wi_0.weight"], ff["wi_1.weight"]);
        else
        {
            var n = g.RmsNorm(x, norm, c.Eps);
            hidden = stacked
                ? g.PackedGeGlu(g.Linear(n, ff.Stacked(["wi_0.weight", "wi_1.weight"], [c.DFf, c.DModel])))
                : g.GeGlu(g.Linear(n, ff["wi_0.weight"]), g.Linear(n, ff["wi_1.weight"]));
        }
        return g.Linear(hidden, ff["wo.weight"], residual: x);
    }
}
