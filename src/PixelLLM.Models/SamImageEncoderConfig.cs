using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// Sizes and numerics of SAM's ViT image encoder (segment-anything <c>ImageEncoderViT</c>; PixelLLM's
/// <c>sam_backbone</c>, spec §3.4). Parameter shapes come from the weights; these fields say how to use them.
/// </summary>
/// <param name="EmbedDim">Token width C (ViT-H: 1280).</param>
/// <param name="Depth">Number of transformer blocks.</param>
/// <param name="NumHeads">Attention heads per block; C must divide evenly.</param>
/// <param name="PatchSize">Patch-embedding conv kernel and stride.</param>
/// <param name="OutChans">Neck output channels (256 for every SAM).</param>
/// <param name="WindowSize">Window side for windowed blocks; 0 makes every block global.</param>
/// <param name="GlobalAttnIndexes">Blocks that attend over the whole grid (ViT-H: 7, 15, 23, 31).</param>
/// <param name="MlpRatio">MLP hidden width = ⌊C · MlpRatio⌋, checked against the weights.</param>
/// <param name="LayerNormEps">Block pre-norm eps: 1e-5 in torch SAM's module default, 1e-6 in PixelLLM (spec §11).</param>
/// <param name="NeckLayerNormEps">Neck LayerNorm2d eps (1e-6 in both references).</param>
/// <param name="UseAbsPos">Adds the learnt <c>pos_embed</c> (1, Ht, Wt, C) after the patch embedding.</param>
/// <param name="UseRelPos">Adds the decomposed relative-position bias (<c>attn.rel_pos_h/w</c>) to the scores.</param>
/// <param name="PosEmbedResize">
/// How <c>pos_embed</c> is resized when the image grid differs from the table's: PixelLLM uses jax bicubic with
/// antialias (spec §3.4 step 2, §12.1); torch SAM never resizes (it needs the configured image size).
/// </param>
/// <param name="RelPosResizeAntialias">
/// How a rel-pos table whose length is not 2·size−1 is resized (linear kernel, axis 0): false = torch SAM's
/// <c>F.interpolate(mode="linear")</c>, true = PixelLLM's jax linear with antialias (spec §3.4 step 3).
/// </param>
/// <param name="PretrainImageSize">
/// segment-anything's <c>img_size</c> (1024 for every SAM): it only sets the stored table shapes, pos_embed
/// (1, S/patch, S/patch, C) and the global blocks' rel-pos (2·S/patch − 1, head dim). <see cref="SamImageEncoder.Build"/> reads the tables'
/// shapes from the weights; this is for <see cref="SamImageEncoder.ParameterShapes"/>.
/// </param>
public sealed record SamImageEncoderConfig(
    int EmbedDim,
    int Depth,
    int NumHeads,
    int PatchSize,
    int OutChans,
    int WindowSize,
    IReadOnlyList<int> GlobalAttnIndexes,
    double MlpRatio = 4.0,
    float LayerNormEps = 1e-5f,
    float NeckLayerNormEps = 1e-6f,
    bool UseAbsPos = true,
    bool UseRelPos = true,
    SamTableResize? PosEmbedResize = null,
    bool RelPosResizeAntialias = false,
    int PretrainImageSize = 1024)
{
    /// <summary>
    /// SAM ViT-H as PixelLLM runs it (spec §3.4, §11): LN eps 1e-6, tables stored for 1024² (pos 64×64, global rel-pos 127)
    /// and resized by jax bicubic / linear with antialias to the image grid (24×24 on PixelLLM's 384² canvas).
    /// </summary>
    public static SamImageEncoderConfig PixelLlmVitH { get; } = new(
        EmbedDim: 1280, Depth: 32, NumHeads: 16, PatchSize: 16, OutChans: 256, WindowSize: 14,
        GlobalAttnIndexes: [7, 15, 23, 31], MlpRatio: 4.0, LayerNormEps: 1e-6f, NeckLayerNormEps: 1e-6f,
        RelPosResizeAntialias: true, PretrainImageSize: 1024);

    public int HeadDim => EmbedDim / NumHeads;
    public int MlpDim => (int)(EmbedDim * MlpRatio);
    /// <summary>Side of the stored pos_embed grid (<see cref="PretrainImageSize"/> / patch).</summary>
    public int PretrainGrid => PretrainImageSize / PatchSize;
    public SamTableResize PosResize => PosEmbedResize ?? SamTableResize.JaxBicubicAntialias;

    /// <summary>True when block <paramref name="index"/> attends within windows.</summary>
    public bool IsWindowed(int index) => WindowSize > 0 && !GlobalAttnIndexes.Contains(index);

    /// <summary>Throws <see cref="ModelFileException"/> when the sizes cannot describe an encoder.</summary>
    public void Validate()
    {
        if (EmbedDim < 1 || Depth < 0 || PatchSize < 1 || OutChans < 1 || WindowSize < 0 || PretrainImageSize < 1)
            throw new ModelFileException($"SAM image encoder: invalid sizes in {this}");
        if (NumHeads < 1 || EmbedDim % NumHeads != 0)
            throw new ModelFileException($"SAM image encoder: embed_dim {EmbedDim} not divisible by {NumHeads} heads");
        foreach (var i in GlobalAttnIndexes)
            if (i < 0 || i >= Depth) throw new ModelFileException($"SAM image encoder: global_attn_indexes entry {i} outside [0, {Depth})");
    }
}

/// <summary>A resize of a learnt table onto another grid (kernel + whether it widens when down-sampling).</summary>
public sealed record SamTableResize(ResizeKernel Kernel, bool Antialias)
{
    public static SamTableResize JaxBicubicAntialias { get; } = new(ResizeKernel.Cubic, true);
}
