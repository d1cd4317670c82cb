using PixelLLM.Models.Common;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// The class-agnostic CenterNet head (scenic <c>CenterNetHead</c>, spec §7.1), engine names
/// <c>box_decoder.proposal_generator.*</c>, weights shared by all levels: a tower of [3×3 conv + bias, GroupNorm, ReLU]
/// (<c>bbox_tower.{3i}</c> conv, <c>bbox_tower.{3i+1}</c> norm); on its output <c>agn_hm</c> (3×3 → 1 heatmap logit) and
/// <c>bbox_pred</c> (3×3 → 4) × the level's learnt <c>scales.l</c>, then ReLU = (l, t, r, b) in units of the level stride.
/// </summary>
public static class CenterNetHeads
{
    /// <summary>Heatmap logits (1, h, w, 1) and box regressions (1, h, w, 4) of pyramid level <paramref name="level"/> (0 = P3).</summary>
    public static (Tensor HeatmapLogits, Tensor BoxRegs) Build(ParamScope p, BoxDecoderConfig cfg, Tensor feature, int level)
    {
        var g = p.Graph;
        var x = feature;
        for (int i = 0; i < cfg.TowerDepth; i++)
        {
            x = g.Conv2d(x, p[$"bbox_tower.{3 * i}.weight"], p[$"bbox_tower.{3 * i}.bias"], padding: 1);
            x = g.Relu(g.GroupNorm(x, p[$"bbox_tower.{3 * i + 1}.weight"], p[$"bbox_tower.{3 * i + 1}.bias"], cfg.GroupNormGroups, cfg.NormEps));
        }
        var heatmap = g.Conv2d(x, p["agn_hm.weight"], p["agn_hm.bias"], padding: 1);
        var regs = g.Relu(g.Mul(g.Conv2d(x, p["bbox_pred.weight"], p["bbox_pred.bias"], padding: 1), p[$"scales.{level}.weight"]));
        return (heatmap, regs);
    }
}
