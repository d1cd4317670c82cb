using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Bench;

/// <summary>
/// Multiply-add work of a graph's GEMM-like nodes (2 FLOPs per multiply-add): Linear, MatMul, Conv2d and the two
/// products of Attention (q·kᵀ and p·v). Element-wise ops, norms and softmax are not counted.
/// </summary>
internal static class GraphFlops
{
    public static double Count(IEnumerable<Node> nodes) => nodes.Sum(Of);

    private static double Of(Node n)
    {
        var o = n.Output.Shape;
        double outputs = o.ElementCount;
        return n.Op switch
        {
            LinearOp => 2 * outputs * n.Inputs[1].Shape[1],
            MatMulOp m => 2 * outputs * (m.TransA ? n.Inputs[0].Shape[-2] : n.Inputs[0].Shape[-1]),
            Conv2dOp => 2 * outputs * n.Inputs[1].Shape[1] * n.Inputs[1].Shape[2] * n.Inputs[1].Shape[3],
            // p·v: B·Lq·Lk·(H·Dv) multiply-adds = output elements · Lk; q·kᵀ: B·Lq·Lk·(H·Dk).
            AttentionOp => 2 * outputs * n.Inputs[1].Shape[1] + 2.0 * o[0] * o[1] * n.Inputs[1].Shape[1] * n.Inputs[0].Shape[2],
            _ => 0,
        };
    }
}
