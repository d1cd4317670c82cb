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
    /// <summary>(B, 1 + Hg·Wg, C) tokens, cls first, with positions added.</summary>
    public static Tensor Add(ParamScope p, Eva02Config cfg, Tensor patches, int batch, int gridH, int gridW)
    {
        var g = p.Graph;
        int c = cfg.EmbedDim, tokens = gridH * gridW;
        var cls = p.Host("cls_token");
        var table = p.Host("pos_embed");
        if (cls.Shape != new Shape(1, 1, c))
            throw new ModelFileException($"Eva02Encoder: cls_token is {cls.Shape}, expected (1, 1, {c})");
        if (table.Shape.Rank != 3 || table.Shape[0] != 1 || table.Shape[2] != c || table.Shape[1] < 2)
            throw new ModelFileException($"Eva02Encoder: pos_embed is {table.Shape}, expected (1, 1 + patches, {c})");
        var (tableH, tableW) = TableGrid(cfg, table.Shape[1] - 1, tokens, gridH, gridW);
        var pos = table.ToFloatArray();

        // cls + its position is input-independent: fold it on the host and repeat it per image (no broadcast op needed
        // for the concat). Same float32 sum as the reference's cat-then-add.
        var clsValues = cls.ToFloatArray();
        var clsRows = new float[batch * c];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < c; i++) clsRows[b * c + i] = clsValues[i] + pos[i];
        var clsTokens = g.Weight(Eva02Encoder.AuxName(p, "cls_pos_embed"), HostTensor.FromArray(clsRows, batch, 1, c));

        // The table is given the shape its consumer needs on the host: a view (Reshape) of a weight is not supported.
        Tensor patchPos;
        if (tableH == gridH && tableW == gridW)
            patchPos = g.Weight(Eva02Encoder.AuxName(p, "patch_pos_embed"), HostTensor.FromArray(pos[c..], 1, tokens, c));
        else
        {
            var table2d = g.Weight(Eva02Encoder.AuxName(p, "patch_pos_embed"), HostTensor.FromArray(pos[c..], 1, tableH, tableW, c));
            patchPos = g.Reshape(PositionTables.ResizeEvaPatches(g, table2d, gridH, gridW), 1, tokens, c);
        }
        return g.Concat(1, clsTokens, g.Add(patches, patchPos));
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
