using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// EVA02's cls token and absolute position embedding: cat(cls, patches) + pos_embed, with the table (1, 1 + Ph·Pw, C)
/// resized to the image grid by jax.image.resize bicubic when the grids differ (spec §3.3 step 3). The cls row of the
/// table is never resized.
/// </summary>
internal static class Eva02Positions
{
    /// <summary>
    /// (B, P + Hg·Wg, C) tokens, the P prefix tokens (cls, then registers) first, with positions added: pos_embed's
    /// prefix rows (unless <see cref="Eva02Config.NoEmbedClass"/>) to the prefix and its patch rows to the patches;
    /// nothing without <see cref="Eva02Config.AbsPosEmbed"/>.
    /// </summary>
    public static Tensor Add(ParamScope p, Eva02Config cfg, Tensor patches, int batch, int gridH, int gridW)
    {
        var g = p.Graph;
        int c = cfg.EmbedDim, tokens = gridH * gridW, prefix = cfg.PrefixTokens, tablePrefix = cfg.NoEmbedClass ? 0 : prefix;
        float[]? pos = null;
        int tableH = 0, tableW = 0;
        if (cfg.AbsPosEmbed)
        {
            var table = p.Host("pos_embed");
            if (table.Shape.Rank != 3 || table.Shape[0] != 1 || table.Shape[2] != c || table.Shape[1] < tablePrefix + 1)
                throw new ModelFileException($"Eva02Encoder: pos_embed is {table.Shape}, expected (1, {(tablePrefix > 0 ? $"{tablePrefix} + " : "")}patches, {c})");
            (tableH, tableW) = TableGrid(cfg, table.Shape[1] - tablePrefix, tokens, gridH, gridW);
            pos = table.ToFloatArray();
        }

        var patchesWithPos = patches;
        if (pos is not null)
        {
            // The table is given the shape its consumer needs on the host: a view (Reshape) of a weight is not supported.
            var patchRows = pos[(tablePrefix * c)..];
            Tensor patchPos;
            if (tableH == gridH && tableW == gridW)
                patchPos = g.Weight(Eva02Encoder.AuxName(p, "patch_pos_embed"), HostTensor.FromArray(patchRows, 1, tokens, c));
            else
            {
                var table2d = g.Weight(Eva02Encoder.AuxName(p, "patch_pos_embed"), HostTensor.FromArray(patchRows, 1, tableH, tableW, c));
                patchPos = g.Reshape(PositionTables.ResizeEvaPatches(g, table2d, gridH, gridW), 1, tokens, c);
            }
            patchesWithPos = g.Add(patches, patchPos);
        }
        if (prefix == 0) return patchesWithPos;

        // The prefix tokens and their positions are input-independent: fold them on the host and repeat them per image
        // (no broadcast op needed for the concat). Same float32 sums as the reference's cat-then-add.
        var prefixRows = PrefixRows(p, cfg);
        var rows = new float[batch * prefix * c];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < prefix * c; i++)
                rows[b * prefix * c + i] = pos is not null && tablePrefix > 0 ? prefixRows[i] + pos[i] : prefixRows[i];
        var prefixTokens = g.Weight(Eva02Encoder.AuxName(p, "cls_pos_embed"), HostTensor.FromArray(rows, batch, prefix, c));
        return g.Concat(1, prefixTokens, patchesWithPos);
    }

    /// <summary>cls_token (1, 1, C) then reg_token (1, R, C), as (P·C) values.</summary>
    private static float[] PrefixRows(ParamScope p, Eva02Config cfg)
    {
        int c = cfg.EmbedDim;
        var rows = new List<float>(cfg.PrefixTokens * c);
        if (cfg.ClassToken) rows.AddRange(Checked(p, "cls_token", new Shape(1, 1, c)));
        if (cfg.RegisterTokens > 0) rows.AddRange(Checked(p, "reg_token", new Shape(1, cfg.RegisterTokens, c)));
        return [.. rows];
    }

    private static float[] Checked(ParamScope p, string name, Shape expected)
    {
        var t = p.Host(name);
        if (t.Shape != expected) throw new ModelFileException($"Eva02Encoder: {name} is {t.Shape}, expected {expected}");
        return t.ToFloatArray();
    }

    private static (int H, int W) TableGrid(Eva02Config cfg, int tableTokens, int tokens, int gridH, int gridW)
    {
        if (cfg.PosEmbedGrid is { } grid)
        {
            if (grid[0] * grid[1] != tableTokens)
                throw new ModelFileException($"Eva02Encoder: pos_embed has {tableTokens} patch rows, PosEmbedGrid {grid[0]}×{grid[1]} needs {grid[0] * grid[1]}");
            return (grid[0], grid[1]);
        }
        if (tableTokens == tokens) return (gridH, gridW);
        int side = (int)Math.Round(Math.Sqrt(tableTokens));
        if (side * side != tableTokens)
            throw new ModelFileException($"Eva02Encoder: pos_embed's {tableTokens} patch rows are neither the {gridH}×{gridW} grid nor a square; set PosEmbedGrid");
        return (side, side);
    }
}
