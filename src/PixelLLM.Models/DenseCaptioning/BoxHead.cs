using PixelLLM.Models.Common;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// The RoI stage's graph half (scenic <c>CascadeROIHeads</c> with one stage, <c>ROIBoxHead</c> <c>box_head.0</c>):
/// multi-level RoIAlign of every proposal from its assigned level, flatten in (H, W, C) order, fc1..fcN each + ReLU,
/// then <c>cls_score</c> (background, object) and <c>bbox_pred</c> (dx, dy, dw, dh) — engine names <c>box_decoder.roi_heads.box_head.0.*</c>.
/// </summary>
public static class BoxHead
{
    /// <param name="levelBoxes">(N, 4) XYXY proposals divided by their level's stride.</param>
    /// <param name="levelIds">(N) I32 level index, 0 = P3.</param>
    /// <param name="pyramid">P3..P7 (1, h, w, C).</param>
    public static (Tensor Features, Tensor ClassLogits, Tensor BoxDeltas) Build(ParamScope p, BoxDecoderConfig cfg,
        Tensor levelBoxes, Tensor levelIds, IReadOnlyList<Tensor> pyramid)
    {
        var g = p.Graph;
        var features = g.RoiAlign(levelBoxes, levelIds, pyramid, cfg.RoiOutputSize, cfg.RoiSamplingRatio);
        int n = levelBoxes.Shape[0];
        var x = g.Reshape(features, n, features.Shape[1] * features.Shape[2] * features.Shape[3]);
        for (int i = 1; i <= cfg.RoiFcDims.Count; i++) x = g.Relu(g.Linear(x, p[$"fc{i}.weight"], p[$"fc{i}.bias"]));
        return (features, g.Linear(x, p["cls_score.weight"], p["cls_score.bias"]), g.Linear(x, p["bbox_pred.weight"], p["bbox_pred.bias"]));
    }
}
