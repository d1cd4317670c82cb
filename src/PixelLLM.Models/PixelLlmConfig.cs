using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// PixelLLM as one configuration: both backbones, the prompt path, the language model (T5 or BERT/GIT, see
/// <see cref="LanguageModel"/>) and the point head, plus the special tokens and the canvas every image is padded to
/// (spec §0, §2). Sizes come from the scenic config (<see cref="PixelLlmConfigJson.FromScenic"/>); numerics (eps,
/// activations) are PixelLLM's constants.
/// </summary>
public sealed partial record PixelLlmConfig
{
    /// <summary>Side of the square canvas both backbones see (scenic's 384); images are padded bottom/right to it.</summary>
    public required int Canvas { get; init; }
    public required Eva02Config Eva { get; init; }
    public required SamImageEncoderConfig Sam { get; init; }
    /// <summary>SAM prompt-encoder embedding width E (256).</summary>
    public required int PromptEmbedDim { get; init; }
    public required PromptAdapterConfig Adapter { get; init; }
    /// <summary>The language model: Flan-T5 with LoRA or the BERT/GIT decoder.</summary>
    public required PixelLlmLanguageModel LanguageModel { get; init; }
    /// <summary>The T5 sizes; throws for a GIT model (test <see cref="PixelLlmLanguageModel.Kind"/> first).</summary>
    public T5Config T5 => LanguageModel.T5 ?? throw new InvalidOperationException("this PixelLLM's language model is BERT/GIT, not T5");
    /// <summary>The GIT decoder sizes; throws for a T5 model.</summary>
    public GitDecoderConfig Git => LanguageModel.Git ?? throw new InvalidOperationException("this PixelLLM's language model is T5, not BERT/GIT");
    /// <summary>LoRA merge scale of every q/v projection (scenic <c>*_lora_scale</c>); used when loading scenic weights.</summary>
    public float LoraScale { get; init; } = 2f;
    /// <summary>LoRA rank (scenic <c>*_lora_rank</c>); 0 = no LoRA.</summary>
    public int LoraRank { get; init; }
    /// <summary>
    /// The T5 attention projections that carry LoRA factors (scenic <c>*_lora_modules</c>, "q,v" in every PixelLLM
    /// config), as scenic's projection names: query, key, value, out.
    /// </summary>
    public IReadOnlyList<string> LoraModules { get; init; } = ["query", "value"];
    /// <summary>The per-token point head, or null for a model without one (densecap configs).</summary>
    public PointHeadConfig? PointHead { get; init; }
    /// <summary>The referring-segmentation branch (mask adapter + SAM mask decoder), or null for a model without one.</summary>
    public MaskBranchConfig? MaskBranch { get; init; }
    /// <summary>The CenterNet2 box decoder of the densecap configs (spec §7.1), or null for a model without one.</summary>
    public DenseCaptioning.BoxDecoderConfig? BoxDecoder { get; init; }
    /// <summary>Eps of the LayerNorm after the visual projection (1e-5, spec §4.3).</summary>
    public float VisualProjectionEps { get; init; } = 1e-5f;
    /// <summary>Decoder start id (T5: 0 = pad; BERT: [CLS]). Config key begin_token_id.</summary>
    public int BeginTokenId { get; init; }
    /// <summary>EOS id (T5: 1; BERT: [SEP]). Config key end_token_id.</summary>
    public int EndTokenId { get; init; } = 1;
    /// <summary>Padding id of token rows (0 for both tokenizers). Config key pad_token_id.</summary>
    public int PadTokenId { get; init; }
    /// <summary>Unknown-word id (T5: 2; BERT: [UNK]), when the config states it (unk_token_id).</summary>
    public int? UnkTokenId { get; init; }
    /// <summary>The tokenizer's special ids other than EOS (scenic special_non_eos_ids), when the config states them.</summary>
    public IReadOnlyList<int> SpecialNonEosIds { get; init; } = [];
    /// <summary>Decoder buffer length L (at most L − 2 generated tokens).</summary>
    public required int MaxCaptionLength { get; init; }
    /// <summary>Points sampled per box side for the point-prompt path (scenic <c>box_points_per_side</c>, 2 = the corners).</summary>
    public int BoxPointsPerSide { get; init; } = 2;
    /// <summary>Offset the sampled box points into the cells (scenic <c>box_point_with_offset</c>, False in every config).</summary>
    public bool BoxPointWithOffset { get; init; }
    /// <summary>
    /// Whether a prompt box becomes its box tokens (scenic <c>prompt_use_box_rate</c> &gt; 0; 1 in every PixelLLM config)
    /// or, at rate 0, the sampled points that an all-zero box always takes. The rate itself only drops boxes in training.
    /// </summary>
    public bool PromptUseBoxes { get; init; } = true;
    /// <summary>Grid of EVA02's stored pos_embed (scenic pretrain_img_size / patch, 16 for EVA02-L), when the config states it.</summary>
    public int? EvaTableGrid { get; init; }
    /// <summary>Grid of SAM's stored pos_embed (scenic sam img_size / patch, 64 for ViT-H), when the config states it.</summary>
    public int? SamTableGrid { get; init; }

    /// <summary>EVA02 ("git") mean and std on 0..255 pixels (CLIP constants × 255, spec §0).</summary>
    public static float[] EvaPixelMean { get; } = [(float)(0.48145466 * 255), (float)(0.4578275 * 255), (float)(0.40821073 * 255)];
    public static float[] EvaPixelStd { get; } = [(float)(0.26862954 * 255), (float)(0.26130258 * 255), (float)(0.27577711 * 255)];
    /// <summary>SAM mean and std (ImageNet on 0..255 pixels).</summary>
    public static float[] SamPixelMean { get; } = [123.675f, 116.28f, 103.53f];
    public static float[] SamPixelStd { get; } = [58.395f, 57.12f, 57.375f];

    /// <summary>Width of the text features the point head reads (T5 d_model; GIT hidden).</summary>
    public int TextWidth => LanguageModel.Width;

    public int EvaGrid => Canvas / Eva.PatchSize;
    public int SamGrid => Canvas / Sam.PatchSize;

    /// <summary>
    /// The maps the prompt adapter (and the box decoder) read, in channel order: scenic's <c>text_decoder_feature_key</c>,
    /// "git_visual_features+sam_visual_features" in every PixelLLM config.
    /// </summary>
    public IReadOnlyList<VisualFeature> FeatureKeys { get; init; } = [VisualFeature.Eva, VisualFeature.Sam];

    /// <summary>Grid of the fused map: every map is resized to the largest (spec §3.5; square canvases only).</summary>
    public int FusedGrid => FeatureKeys.Max(k => k == VisualFeature.Eva ? EvaGrid : SamGrid);

    /// <summary>Visual tokens each prompt hands the LM (<see cref="PromptAdapterConfig.VisualTokens"/>).</summary>
    public int VisualTokens => Adapter.VisualTokens(FusedGrid);

    /// <summary>Channels of the fused map: the maps' channels added up in key order.</summary>
    public int FusedChannels => FeatureKeys.Sum(k => k == VisualFeature.Eva ? Eva.EmbedDim : Sam.OutChans);
}

/// <summary>A visual feature map by its scenic key.</summary>
public enum VisualFeature
{
    /// <summary><c>git_visual_features</c>: EVA02's patch grid.</summary>
    Eva,
    /// <summary><c>sam_visual_features</c>: SAM's neck output.</summary>
    Sam,
}

/// <summary>
/// scenic's <c>PromptAdaptor</c> (spec §4.2, errata A4): a SAM two-way transformer over learned query tokens and the
/// projected prompt tokens, keys = the projected fused map.
/// </summary>
/// <param name="Depth">Two-way blocks (6 in PixelLLM).</param>
/// <param name="TransformerDim">Token width D inside the transformer (512).</param>
/// <param name="InputEmbeddingDim">Prompt-encoder width E (256); prompts and PE are projected E → D when E ≠ D.</param>
/// <param name="NumOutputs">Learned query tokens K = visual tokens handed to the LM (32).</param>
/// <param name="OutputDim">Width of each output token after its own Dense (1024).</param>
/// <param name="NumHeads">Attention heads; scenic hard-codes 8.</param>
/// <param name="MlpDim">Token-MLP width; scenic hard-codes 2048 (the tiny goldens use another, read from the weights).</param>
/// <param name="AttentionDownsampleRate">Cross attentions work at D / rate (2).</param>
/// <param name="LayerNormEps">Eps of every LayerNorm inside the transformer (1e-5).</param>
/// <param name="DenseFuse">scenic prompt_fuse_fn 'dense': the LM reads the updated image map through dense_output_mlp, one
/// visual token per fused-map cell, instead of the K output tokens ('sparse', every PixelLLM config).</param>
public sealed record PromptAdapterConfig(int Depth, int TransformerDim, int InputEmbeddingDim, int NumOutputs, int OutputDim,
    int NumHeads = 8, int MlpDim = 2048, int AttentionDownsampleRate = 2, float LayerNormEps = 1e-5f, bool DenseFuse = false)
{
    /// <summary>Visual tokens per prompt for a fused map of <paramref name="grid"/>²: K, or every cell with <see cref="DenseFuse"/>.</summary>
    public int VisualTokens(int grid) => DenseFuse ? grid * grid : NumOutputs;

    public TwoWayTransformerConfig Transformer => new(Depth, TransformerDim, NumHeads, MlpDim, AttentionDownsampleRate, LayerNormEps, UnaryKind.Relu);
}

/// <summary>scenic's <c>MlpPointPredictor</c> (spec §6.1).</summary>
/// <param name="Depth">Dense layers (4).</param>
/// <param name="HiddenDim">Width of the hidden layers (512).</param>
/// <param name="NumOutputPoints">Points per token (2: the corners of the token's box).</param>
/// <param name="NumClasses">Logit columns per point besides (x, y, background): output width = points · (3 + classes).</param>
/// <param name="PreNorm">LayerNorm (eps <paramref name="NormEps"/>) before the MLP.</param>
/// <param name="Activation">Between Dense layers: exact GELU in every PixelLLM config.</param>
public sealed record PointHeadConfig(int Depth, int HiddenDim, int NumOutputPoints = 2, int NumClasses = 1, bool PreNorm = true,
    UnaryKind Activation = UnaryKind.Gelu, float NormEps = 1e-6f)
{
    /// <summary>Values per point: x, y and 1 + classes logits.</summary>
    public int PointWidth => 3 + NumClasses;
    public int OutputDim => NumOutputPoints * PointWidth;
}
