using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// scenic's <c>T5TextualHead</c> around our <see cref="T5"/> (spec §5.1), engine names under <c>t5.</c>: the encoder runs
/// over [visual tokens ; context token embeddings] with the t5x pairwise mask, the decoder is the reference's
/// non-incremental pass with the target-derived masks (<see cref="PixelLlmTokens.DecoderMasks"/>); masks add −1e10.
/// </summary>
public static class PixelLlmText
{
    /// <param name="t5">Scope <c>t5</c>.</param>
    /// <param name="visual">(N, K, d) projected visual tokens.</param>
    /// <param name="context">I32 (N, Lc) context ids (0 = padding).</param>
    /// <param name="mask">U8 (N, 1, K + Lc, K + Lc) pairwise validity.</param>
    /// <returns>encoder_norm output (N, K + Lc, d).</returns>
    public static Tensor Encode(ParamScope t5, T5Config c, Tensor visual, Tensor context, Tensor mask)
    {
        var g = t5.Graph;
        if (visual.Shape.Rank != 3 || visual.Shape[2] != c.DModel)
            throw new GraphBuildException($"PixelLLM T5: visual tokens must be (N, K, {c.DModel}), got {visual.Desc}");
        if (context.Shape.Rank != 2 || context.Shape[0] != visual.Shape[0])
            throw new GraphBuildException($"PixelLLM T5: context ids must be (N={visual.Shape[0]}, Lc), got {context.Desc}");
        var x = context.Shape[1] == 0 ? visual : g.Concat(1, visual, g.Embedding(t5["shared.weight"], context));
        return T5.EncodeEmbedded(t5, c, x, mask);
    }

    /// <summary>Decoder states after decoder_norm (R, L, d) and logits (R, L, V) for token rows (R, L).</summary>
    public static (Tensor Features, Tensor Logits) Decode(ParamScope t5, T5Config c, Tensor tokens, Tensor memory, Tensor selfMask, Tensor crossMask)
    {
        var features = T5.Decode(t5, c, tokens, memory, crossMask, selfMask);
        return (features, T5.Logits(t5, c, features));
    }
}
