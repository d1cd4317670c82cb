using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// SAM's transformer Attention: q/k/v projected from C to an internal width C/downsample_rate (q_proj, k_proj, v_proj with
/// bias), multi-head softmax(q·kᵀ/√d_head)·v, out_proj back to C. Token-major (B, L, C) throughout.
/// </summary>
public static class TwoWayAttention
{
    /// <param name="p">Scope of one attention module (holds q_proj, k_proj, v_proj, out_proj).</param>
    /// <param name="internalDim">Expected projection width (C / downsample rate); checked against the weights.</param>
    /// <param name="residual">A skip connection (B, Lq, C) to add to the result, in out_proj's epilogue; null for none.</param>
    public static Tensor Build(ParamScope p, Tensor q, Tensor k, Tensor v, int numHeads, int internalDim, Tensor? residual = null)
    {
        var g = p.Graph;
        var qWeight = p["q_proj.weight"];
        if (qWeight.Shape.Rank != 2 || qWeight.Shape[0] != internalDim)
            throw new ModelFileException($"{p.Prefix}.q_proj.weight is {qWeight.Desc}, expected internal width {internalDim}");
        if (numHeads < 1 || internalDim % numHeads != 0)
            throw new GraphBuildException($"{p.Prefix}: {numHeads} heads do not divide the internal width {internalDim}");
        var qp = g.Linear(q, qWeight, p["q_proj.bias"]);
        var kp = g.Linear(k, p["k_proj.weight"], p["k_proj.bias"]);
        var vp = g.Linear(v, p["v_proj.weight"], p["v_proj.bias"]);
        float scale = (float)(1.0 / Math.Sqrt(internalDim / numHeads));
        var attended = g.Attention(qp, kp, vp, numHeads, scale);
        return g.Linear(attended, p["out_proj.weight"], p["out_proj.bias"], residual);
    }
}
