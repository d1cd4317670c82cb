using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Runtime.Profiling;

/// <summary>
/// The work one node does: floating-point operations (a multiply-add counts 2) and bytes moved to and from memory
/// (each operand read once, the output written once; the compulsory traffic, not what a given kernel happens to do).
/// </summary>
public readonly record struct OpCost(double Flops, double Bytes)
{
    /// <summary>Adds two costs (a row of the profile sums its nodes).</summary>
    public static OpCost operator +(OpCost a, OpCost b) => new(a.Flops + b.Flops, a.Bytes + b.Bytes);
}

/// <summary>
/// FLOPs and bytes of every op from its operands' shapes. GEMM-like ops count 2·M·N·K; attention counts the two
/// products over the (query, key) pairs it can see (FlashAttention's convention, causal pairs only when causal);
/// elementwise and normalisation ops count a few operations per element; data movement counts none. Bytes use the
/// dtypes given, so a backend that stores f32 tensors in 16 bits passes the stored dtypes.
/// </summary>
public static class OpCosts
{
    /// <summary>The cost of <paramref name="op"/> applied to <paramref name="inputs"/> giving <paramref name="output"/>.</summary>
    public static OpCost Of(Op op, IReadOnlyList<TensorDesc> inputs, TensorDesc output)
    {
        if (op.Cost(inputs, output) is { } declared) return declared;
        double outputBytes = output.ByteSize, outputCount = output.ElementCount;
        double all = outputBytes + inputs.Sum(i => (double)i.ByteSize);
        return op switch
        {
            _ when op.IsView => new OpCost(0, 0),
            MatMulOp m => new OpCost(2.0 * outputCount * (m.TransA ? inputs[0].Shape[-2] : inputs[0].Shape[-1]), all),
            GroupedLinearOp l => new OpCost(2.0 * outputCount * inputs[1].Shape[1] + (l.HasBias ? outputCount : 0), all),
            LinearOp l => new OpCost(2.0 * outputCount * inputs[1].Shape[1] + (l.HasBias ? outputCount : 0) + (l.HasResidual ? outputCount : 0), all),
            // Three products of R rows; bytes: x, the norm weight and the three weights read, q and one cache slot per row written.
            QkvProjectionOp => new OpCost(6.0 * inputs[2].ElementCount * inputs[0].Shape[0] + 4.0 * inputs[0].ElementCount,
                inputs[0].ByteSize + inputs[1].ByteSize + inputs[2].ByteSize + inputs[3].ByteSize + inputs[4].ByteSize + 3 * output.ByteSize),
            RmsNormGeGluOp => new OpCost(4.0 * outputCount * inputs[2].Shape[1] + 4.0 * inputs[0].ElementCount + 10 * outputCount, all),
            RmsNormLinearOp => new OpCost(2.0 * outputCount * inputs[2].Shape[1] + 4.0 * inputs[0].ElementCount, all),
            Conv2dOp => new OpCost(2.0 * outputCount * inputs[1].Shape[1] * inputs[1].Shape[2] * inputs[1].Shape[3], all),
            ConvTranspose2dOp => new OpCost(2.0 * inputs[0].ElementCount * inputs[1].Shape[1] * inputs[1].Shape[2] * inputs[1].Shape[3], all),
            AttentionOp a => new OpCost(Attention(a, inputs), all),
            RelPosBiasOp r => new OpCost(2.0 * inputs[0].Shape[0] * r.QueryH * r.QueryW * (inputs[0].Shape[2]) * (r.KeyH + r.KeyW) + outputCount, all),
            LayerNormOp or LayerNorm2dOp or GroupNormOp => new OpCost(8 * outputCount, all),
            RmsNormOp => new OpCost(4 * outputCount, all),
            SoftmaxOp or LogSoftmaxOp => new OpCost(5 * outputCount, all),
            GreedyPickOp => new OpCost(6.0 * inputs[0].ElementCount, all),
            BeamCandidatesOp => new OpCost(6.0 * inputs[0].ElementCount, all),
            RopeOp => new OpCost(3 * outputCount, all),
            SwiGluOp => new OpCost(6 * outputCount, all),
            GeGluOp => new OpCost(10 * outputCount, all),
            UnaryOp { Kind: UnaryKind.Gelu or UnaryKind.GeluTanh or UnaryKind.Silu or UnaryKind.Sigmoid } => new OpCost(8 * outputCount, all),
            UnaryOp or BinaryOp or ScaleOp or ArgMaxOp or TopKOp or ReduceMeanOp or ReduceMaxOp => new OpCost(inputs[0].ElementCount, all),
            ResizeOp or RoiAlignOp => new OpCost(4 * outputCount, all),
            // Gathers and windowed writes touch only the rows they move, not the whole table or state.
            EmbeddingOp or TakeAlongLastOp => new OpCost(0, 2 * outputBytes + inputs[1].ByteSize),
            WriteAtOp => new OpCost(0, 2.0 * inputs[1].ByteSize + inputs[2].ByteSize),
            SliceOp => new OpCost(0, 2 * outputBytes),
            _ => new OpCost(0, all),
        };
    }

    /// <summary>2·D per visible (query, key) pair for q·kᵀ plus 2·Dv for p·v, per batch element and head.</summary>
    private static double Attention(AttentionOp a, IReadOnlyList<TensorDesc> inputs)
    {
        var (q, k, v) = a.Operands(inputs);
        int batch = q.Shape[0], lq = q.Shape[1], lk = k.Shape[1];
        double d = q.Shape[2] / a.NumHeads, dv = v.Shape[2] / a.NumHeads;
        return 2.0 * batch * a.NumHeads * VisiblePairs(lq, lk, a.Causal) * (d + dv);
    }

    /// <summary>(query, key) pairs attention computes: all of them, or under the causal rule query i sees keys j ≤ i + (Lk − Lq).</summary>
    public static double VisiblePairs(int lq, int lk, bool causal)
    {
        if (!causal) return (double)lq * lk;
        double pairs = 0;
        for (int i = 0; i < lq; i++) pairs += Math.Clamp(i + 1 + lk - lq, 0, lk);
        return pairs;
    }
}
