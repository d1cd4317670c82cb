using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// SAM's ViT image encoder (segment-anything <c>ImageEncoderViT</c>, PixelLLM <c>sam_backbone</c>), channels-last:
/// patch conv → + pos_embed → blocks (windowed or global attention with decomposed rel-pos bias, MLP) →
/// neck (1×1 conv, LN, 3×3 conv, LN). Parameter names are segment-anything's state-dict names.
/// </summary>
public static partial class SamImageEncoder
{
    /// <summary>
    /// Adds the encoder to <paramref name="p"/>'s graph. <paramref name="image"/> is the normalised image
    /// (B, H, W, 3); returns (B, ⌊H/patch⌋, ⌊W/patch⌋, OutChans).
    /// Names <c>mid.patch_embed</c> (before pos_embed) and <c>mid.blocks.i</c> (B, Hg, Wg, C) in the current scope.
    /// </summary>
    public static Tensor Build(ParamScope p, SamImageEncoderConfig cfg, Tensor image)
    {
        cfg.Validate();
        var g = p.Graph;
        var (gridH, gridW) = CheckImage(cfg, image);

        var x = g.Conv2d(image, Expect(p, "patch_embed.proj.weight", cfg.EmbedDim, image.Shape[3], cfg.PatchSize, cfg.PatchSize),
            p.Optional("patch_embed.proj.bias"), stride: cfg.PatchSize);
        g.Name(x, "mid.patch_embed");
        if (cfg.UseAbsPos) x = g.Add(x, PosEmbed(p, cfg, gridH, gridW));

        for (int i = 0; i < cfg.Depth; i++)
        {
            x = SamEncoderBlock.Build(p.Sub($"blocks.{i}"), cfg, x, cfg.IsWindowed(i));
            g.Name(x, $"mid.blocks.{i}");
        }
        return Neck(p.Sub("neck"), cfg, x);
    }

    private static (int Height, int Width) CheckImage(SamImageEncoderConfig cfg, Tensor image)
    {
        var s = image.Shape;
        if (image.DType != DType.F32 || s.Rank != 4 || s[3] != 3)
            throw new InvalidInputException($"SAM image encoder: image must be F32 (B, H, W, 3) channels-last, got {image.Desc}");
        if (s[0] < 1 || s[1] < cfg.PatchSize || s[2] < cfg.PatchSize)
            throw new InvalidInputException($"SAM image encoder: image {s} must be at least one patch ({cfg.PatchSize}) high and wide");
        // A VALID stride-patch conv, as in both references: trailing pixels that do not fill a patch are never seen.
        return (s[1] / cfg.PatchSize, s[2] / cfg.PatchSize);
    }

    /// <summary>The (1, Hg, Wg, C) table; resized from its stored grid when the image grid differs (spec §3.4 step 2).</summary>
    private static Tensor PosEmbed(ParamScope p, SamImageEncoderConfig cfg, int gridH, int gridW)
    {
        var table = p["pos_embed"];
        var s = table.Shape;
        if (s.Rank != 4 || s[0] != 1 || s[3] != cfg.EmbedDim)
            throw new ModelFileException($"SAM image encoder: pos_embed {s} must be (1, Ht, Wt, {cfg.EmbedDim})");
        if (s[1] == gridH && s[2] == gridW) return table;
        return PositionTables.ResizeSamPosEmbed(p.Graph, cfg, table, gridH, gridW);
    }

    /// <summary>
    /// A conv weight of exactly (O, I, kh, kw): another kernel size would still build (a different grid), so it is checked here.
    /// </summary>
    private static Tensor Expect(ParamScope p, string name, params int[] shape)
    {
        var w = p[name];
        if (w.Shape != new Shape(shape))
            throw new ModelFileException($"SAM image encoder: {w.Name} is {w.Shape}, expected {new Shape(shape)}");
        return w;
    }

    /// <summary>SAM's neck on channels-last maps, so LayerNorm over the last dim is LayerNorm2d.</summary>
    private static Tensor Neck(ParamScope p, SamImageEncoderConfig cfg, Tensor x)
    {
        var g = p.Graph;
        x = g.Conv2d(x, Expect(p, "0.weight", cfg.OutChans, cfg.EmbedDim, 1, 1));
        x = g.LayerNorm(x, p["1.weight"], p["1.bias"], cfg.NeckLayerNormEps);
        x = g.Conv2d(x, Expect(p, "2.weight", cfg.OutChans, cfg.OutChans, 3, 3), padding: 1);
        return g.LayerNorm(x, p["3.weight"], p["3.bias"], cfg.NeckLayerNormEps);
    }
}
