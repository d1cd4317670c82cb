using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// The referring-segmentation branch of a refseg PixelLLM (spec §7.2–7.3): the gated mask adapter, SAM's frozen mask decoder
/// and the size box prompts are normalised by. Parsed from the scenic config by <see cref="MaskBranchConfigJson"/>.
/// </summary>
/// <param name="Adapter">scenic <c>SamMaskAdaptor</c> (<c>mask_adapter</c>).</param>
/// <param name="Decoder">scenic <c>MaskDecoder</c> (<c>mask_decoder</c>), run in single-mask mode.</param>
/// <param name="PreprocessHeight">scenic <c>sam_preprocess_args.image_size</c>[0]: box corners are normalised by this CONFIG
/// value, not by the processed tensor (errata D4; 384 = the canvas in every config).</param>
/// <param name="PreprocessWidth">scenic <c>sam_preprocess_args.image_size</c>[1].</param>
public sealed record MaskBranchConfig(MaskAdapterConfig Adapter, MaskDecoderConfig Decoder, int PreprocessHeight, int PreprocessWidth)
{
    /// <summary>Masks are 4× the SAM feature grid (two stride-2 transposed convolutions).</summary>
    public const int UpscaleFactor = 4;
}

/// <summary>
/// scenic's <c>SamMaskAdaptor</c> (spec §7.3, errata D2/D3): LayerNorm + Dense projections of the visual tokens and of every
/// text state, a SAM two-way transformer over them (zero positional encoding) queried by <paramref name="NumOutputs"/>
/// learned tokens, and an optional tanh gate. The output is added to the box-corner embeddings, so
/// <paramref name="TransformerDim"/> = <paramref name="OutputDim"/> = the prompt-encoder width and NumOutputs = 2.
/// </summary>
/// <param name="Depth">Two-way blocks (2).</param>
/// <param name="TransformerDim">Token width inside the transformer (256).</param>
/// <param name="NumOutputs">Learned query tokens (2: one per box corner).</param>
/// <param name="OutputDim">Width of each output token (= TransformerDim).</param>
/// <param name="NumHeads">Attention heads; scenic hard-codes 8.</param>
/// <param name="MlpDim">Token-MLP width; scenic hard-codes 2048 (the tiny golden uses another, stated in its config).</param>
/// <param name="AttentionDownsampleRate">Cross attentions work at width / rate (2).</param>
/// <param name="Gating">Multiply the output by tanh(<c>alpha_output.weight</c>) (True in the refseg configs).</param>
/// <param name="InputProjection">Project visual and text tokens (LayerNorm + Dense) before the transformer (True).</param>
/// <param name="ProjectionEps">Eps of the projections' LayerNorm_0 (Flax default 1e-6).</param>
/// <param name="LayerNormEps">Eps of the LayerNorms inside the two-way transformer (1e-5).</param>
public sealed record MaskAdapterConfig(int Depth, int TransformerDim, int NumOutputs, int OutputDim, int NumHeads = 8, int MlpDim = 2048,
    int AttentionDownsampleRate = 2, bool Gating = true, bool InputProjection = true, float ProjectionEps = 1e-6f, float LayerNormEps = 1e-5f)
{
    /// <summary>The two-way transformer inside (ReLU MLP as SAM).</summary>
    public TwoWayTransformerConfig Transformer => new(Depth, TransformerDim, NumHeads, MlpDim, AttentionDownsampleRate, LayerNormEps, UnaryKind.Relu);
}
