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
        x = Attention(p.Sub("attn"), cfg, g.LayerNorm(x, p["norm1.weight"], p["norm1.bias"], cfg.LayerNormEps), x, windowed);

        var lin1 = p["mlp.lin1.weight"];
        if (lin1.Shape.Rank != 2 || lin1.Shape[0] != cfg.MlpDim)
            throw new ModelFileException($"SAM image encoder: {p.Prefix}.mlp.lin1.weight {lin1.Shape} must have {cfg.MlpDim} rows (C·mlp_ratio)");
        var h = g.LayerNorm(x, p["norm2.weight"], p["norm2.bias"], cfg.LayerNormEps);
        h = g.Gelu(g.Linear(h, lin1, p.Optional("mlp.lin1.bias")));
        return g.Linear(h, p["mlp.lin2.weight"], p.Optional("mlp.lin2.bias"), residual: x);
    }

    /// <summary>
    /// residual + proj(self-attention of the normalised (B, H, W, C) map <paramref name="normed"/>), within windows or
    /// over the whole grid.
    /// </summary>
    /// <remarks>
    /// SAM zero-pads the normalised map and cuts windows before its qkv projection, so a pad token's q, k and v are the
    /// qkv bias, and pad tokens take part as keys and values of their window (unmasked). Both projections are per
    /// token, so here qkv runs on the H·W real tokens and the partition fills pad tokens with that bias; proj runs after
    /// the un-partition, which drops the pad queries' outputs. Same values, and (at 24² with windows of 14) 27 % fewer
    /// rows through both GEMMs.
    /// </remarks>
    private static Tensor Attention(ParamScope p, SamImageEncoderConfig cfg, Tensor normed, Tensor residual, bool windowed)
    {
        var g = p.Graph;
        int height = normed.Shape[1], width = normed.Shape[2], c = cfg.EmbedDim;
        var qkvWeight = p["qkv.weight"];
        if (qkvWeight.Shape != new Shape(3 * c, c))
            throw new ModelFileException($"SAM image encoder: {p.Prefix}.qkv.weight {qkvWeight.Shape} must be ({3 * c}, {c})");
        var qkvBias = p.Optional("qkv.bias");
        var qkv = g.Linear(normed, qkvWeight, qkvBias);                                         // (B, H, W, 3C)
        // Windows (or the whole grid) of the packed [q | k | v] rows, each heads·head_dim wide and head-major inside;
        // the rel-pos bias goes in as its tables: one op, which a backend may run as its steps or as one kernel.
        int spanH = windowed ? cfg.WindowSize : height, spanW = windowed ? cfg.WindowSize : width;
        var o = g.GridAttention(qkv, cfg.NumHeads, 1f / MathF.Sqrt(cfg.HeadDim), windowed ? cfg.WindowSize : 0, windowed ? qkvBias : null,
            cfg.UseRelPos ? RelPosTable(p, cfg, "rel_pos_h", spanH) : null, cfg.UseRelPos ? RelPosTable(p, cfg, "rel_pos_w", spanW) : null);
        return g.Linear(o, p["proj.weight"], p.Optional("proj.bias"), residual: residual);
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
