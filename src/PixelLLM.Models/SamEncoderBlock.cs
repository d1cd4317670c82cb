using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// One block of SAM's ViT (segment-anything <c>Block</c> + <c>Attention</c>) on (B, H, W, C) maps:
/// x += proj(attn(LN1(x))) over windows or the whole grid; x += lin2(gelu(lin1(LN2(x)))).
/// </summary>
public static class SamEncoderBlock
{
    public static Tensor Build(ParamScope p, SamImageEncoderConfig cfg, Tensor x, bool windowed)
    {
        var g = p.Graph;
        int height = x.Shape[1], width = x.Shape[2];

        var h = g.LayerNorm(x, p["norm1.weight"], p["norm1.bias"], cfg.LayerNormEps);
        // Windows are cut after LN1: SAM zero-pads the normalised map, and the pad tokens take part as
        // keys and values of their window (unmasked).
        if (windowed) h = g.WindowPartition(h, cfg.WindowSize);
        h = Attention(p.Sub("attn"), cfg, h);
        if (windowed) h = g.WindowUnpartition(h, cfg.WindowSize, height, width);
        x = g.Add(x, h);

        var lin1 = p["mlp.lin1.weight"];
        if (lin1.Shape.Rank != 2 || lin1.Shape[0] != cfg.MlpDim)
            throw new ModelFileException($"SAM image encoder: {p.Prefix}.mlp.lin1.weight {lin1.Shape} must have {cfg.MlpDim} rows (C·mlp_ratio)");
        h = g.LayerNorm(x, p["norm2.weight"], p["norm2.bias"], cfg.LayerNormEps);
        h = g.Linear(h, lin1, p.Optional("mlp.lin1.bias"));
        h = g.Gelu(h);
        h = g.Linear(h, p["mlp.lin2.weight"], p.Optional("mlp.lin2.bias"));
        return g.Add(x, h);
    }

    /// <summary>Self-attention within each (N, h, w, C) map (a window or the whole grid) → (N, h, w, C).</summary>
    private static Tensor Attention(ParamScope p, SamImageEncoderConfig cfg, Tensor x)
    {
        var g = p.Graph;
        int n = x.Shape[0], h = x.Shape[1], w = x.Shape[2], c = cfg.EmbedDim;
        var qkvWeight = p["qkv.weight"];
        if (qkvWeight.Shape != new Shape(3 * c, c))
            throw new ModelFileException($"SAM image encoder: {p.Prefix}.qkv.weight {qkvWeight.Shape} must be ({3 * c}, {c})");

        var tokens = g.Reshape(x, n, h * w, c);
        var qkv = g.Linear(tokens, qkvWeight, p.Optional("qkv.bias"));
        // The fused projection's rows are [q | k | v], each heads·head_dim wide and head-major inside: the rel-pos bias
        // and the attention read them in place (packed), with no split copies.
        Tensor? bias = null;
        if (cfg.UseRelPos)
        {
            var relH = RelPosTable(p, cfg, "rel_pos_h", h);
            var relW = RelPosTable(p, cfg, "rel_pos_w", w);
            bias = g.RelPosBias(qkv, relH, relW, cfg.NumHeads, h, w, h, w, packedQkv: true);
        }
        // The rel-pos bias goes in as its h + w terms (B, H, L, h + w); attention sums them per key as it scores.
        var o = g.PackedAttention(qkv, cfg.NumHeads, 1f / MathF.Sqrt(cfg.HeadDim), bias, biasKeyGridRows: bias is null ? 0 : h);
        o = g.Linear(o, p["proj.weight"], p.Optional("proj.bias"));
        return g.Reshape(o, n, h, w, c);
    }

    /// <summary>
    /// The (2·size − 1, head_dim) table for one axis. A stored table of another length is resized along axis 0 with a
    /// linear kernel: torch SAM's F.interpolate, or PixelLLM's jax linear with antialias (config flag).
    /// </summary>
    private static Tensor RelPosTable(ParamScope p, SamImageEncoderConfig cfg, string name, int size)
    {
        var table = p[name];
        if (table.Shape.Rank != 2 || table.Shape[1] != cfg.HeadDim)
            throw new ModelFileException($"SAM image encoder: {p.Prefix}.{name} {table.Shape} must be (L, {cfg.HeadDim})");
        int length = 2 * size - 1;
        return table.Shape[0] == length ? table
            : PositionTables.ResizeSamRelPos(p.Graph, cfg, table, length);
    }
}
