using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>What <see cref="Eva02Encoder.Build"/> adds to the graph.</summary>
/// <param name="Features">(B, P + Hg·Wg, C), the P prefix tokens (cls, registers) first: timm forward_features (after the final norm when configured).</param>
/// <param name="PreLogits">(B, C) pooled (+ fc_norm) vector; with <see cref="Eva02Pool.None"/> the features themselves, as timm's forward_head(pre_logits=True) gives them.</param>
/// <param name="Logits">(B, NumClasses) — (B, 1 + Hg·Wg, NumClasses) with no pooling, the head on every token — or null without a head.</param>
/// <param name="PatchGrid">(B, Hg, Wg, C): the patch tokens of <paramref name="Features"/> without the prefix (PixelLLM's output).</param>
public sealed record Eva02Outputs(Tensor Features, Tensor? PreLogits, Tensor? Logits, Tensor PatchGrid, int GridH, int GridW);

/// <summary>
/// EVA02 vision transformer (timm <c>Eva</c> with EVA02 options; PixelLLM's <c>git_backbone</c>, spec §3.3) on a
/// channels-last image (B, H, W, Cin). Patches are a VALID stride-patch convolution, so trailing pixels that do not fill a
/// patch are never seen (PixelLLM: 384 → 27 patches of 14). Names mid.patch_embed (B, Hg·Wg, C, before cls/pos) and
/// mid.blocks.i (B, P + Hg·Wg, C) in the current graph scope.
/// </summary>
public static partial class Eva02Encoder
{
    public static Eva02Outputs Build(ParamScope p, Eva02Config cfg, Tensor image)
    {
        Validate(cfg);
        var g = p.Graph;
        var s = image.Shape;
        if (s.Rank != 4 || s[1] < cfg.PatchSize || s[2] < cfg.PatchSize)
            throw new GraphBuildException($"Eva02Encoder: image must be (B, H, W, channels) with H, W ≥ patch {cfg.PatchSize}, got {image.Desc}");
        int batch = s[0], gridH = s[1] / cfg.PatchSize, gridW = s[2] / cfg.PatchSize, tokens = gridH * gridW;

        var convWeight = p["patch_embed.proj.weight"];
        if (convWeight.Shape != new Shape(cfg.EmbedDim, s[3], cfg.PatchSize, cfg.PatchSize))
            throw new ModelFileException($"Eva02Encoder: {convWeight.Name} is {convWeight.Shape}, expected ({cfg.EmbedDim}, {s[3]}, {cfg.PatchSize}, {cfg.PatchSize}) for a {s[3]}-channel image");
        // timm drops the patch conv's bias when a norm follows the positions (use_pre_transformer_norm).
        var patches = g.Conv2d(image, convWeight, cfg.PreNorm ? p.Optional("patch_embed.proj.bias") : p["patch_embed.proj.bias"], stride: cfg.PatchSize);
        patches = g.Name(g.Reshape(patches, batch, tokens, cfg.EmbedDim), "mid.patch_embed");

        var x = Eva02Positions.Add(p, cfg, patches, batch, gridH, gridW);
        if (cfg.PreNorm) x = g.LayerNorm(x, p["norm_pre.weight"], p["norm_pre.bias"], cfg.NormEps);
        var rope = cfg.UseRope ? RopeTables(p, cfg, gridH, gridW) : ((Tensor, Tensor)?)null;
        for (int i = 0; i < cfg.Depth; i++)
            x = g.Name(Eva02Block.Build(p.Sub($"blocks.{i}"), cfg, x, rope), $"mid.blocks.{i}");
        if (cfg.FinalNorm) x = g.LayerNorm(x, p["norm.weight"], p["norm.bias"], cfg.NormEps);

        int prefix = cfg.PrefixTokens;
        var patchTokens = prefix == 0 ? x : g.Slice(x, 1, prefix, prefix + tokens);
        var pooled = cfg.Pool switch
        {
            Eva02Pool.Avg => g.ReduceMean(patchTokens, 1),
            Eva02Pool.Token => g.Reshape(g.Slice(x, 1, 0, 1), batch, cfg.EmbedDim),
            Eva02Pool.Max => g.ReduceMax(patchTokens, 1),
            Eva02Pool.AvgMax => g.Scale(g.Add(g.ReduceMax(patchTokens, 1), g.ReduceMean(patchTokens, 1)), 0.5f), // timm: 0.5·(max + mean)
            _ => x, // timm's global_pool '': no pooling, the head (if any) on every token
        };
        if (cfg.FcNorm) pooled = g.LayerNorm(pooled, p["fc_norm.weight"], p["fc_norm.bias"], cfg.NormEps);
        var logits = cfg.NumClasses > 0 ? g.Linear(pooled, p["head.weight"], p["head.bias"]) : null;
        var grid = g.Reshape(patchTokens, batch, gridH, gridW, cfg.EmbedDim);
        return new Eva02Outputs(x, pooled, logits, grid, gridH, gridW);
    }

    private static (Tensor Sin, Tensor Cos) RopeTables(ParamScope p, Eva02Config cfg, int gridH, int gridW)
    {
        var reference = cfg.RopeReferenceGrid ?? [gridH, gridW];
        var (sin, cos) = Eva02Rope.Tables(cfg.HeadDim, gridH, gridW, reference[0], reference[1], cfg.RopeTemperature);
        return (p.Graph.Weight(AuxName(p, "rope.sin"), sin), p.Graph.Weight(AuxName(p, "rope.cos"), cos));
    }

    /// <summary>Graph name of a table derived at build time from this module's parameters or shapes.</summary>
    internal static string AuxName(ParamScope p, string name) => p.Prefix.Length == 0 ? "aux." + name : $"aux.{p.Prefix}.{name}";

    private static void Validate(Eva02Config cfg)
    {
        string? error =
            cfg.EmbedDim < 1 || cfg.NumHeads < 1 || cfg.EmbedDim % cfg.NumHeads != 0 ? $"embed dim {cfg.EmbedDim} not divisible into {cfg.NumHeads} heads" :
            cfg.PatchSize < 1 || cfg.Depth < 0 ? $"patch size {cfg.PatchSize} / depth {cfg.Depth} invalid" :
            cfg.UseRope && cfg.HeadDim % 4 != 0 ? $"RoPE needs a head dim divisible by 4, got {cfg.HeadDim}" :
            cfg.RopeReferenceGrid is { Length: not 2 } ? "RopeReferenceGrid must be (rows, cols)" :
            cfg.PosEmbedGrid is { Length: not 2 } ? "PosEmbedGrid must be (rows, cols)" :
            cfg.NumClasses < 0 ? $"NumClasses {cfg.NumClasses} negative" :
            cfg.RegisterTokens < 0 ? $"RegisterTokens {cfg.RegisterTokens} negative" : null;
        if (error is not null) throw new GraphBuildException("Eva02Encoder: " + error);
    }
}
