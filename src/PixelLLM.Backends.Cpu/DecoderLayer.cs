using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using L = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Input;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// T5DecoderLayerOp as the eight ops it stands for, each run by its own CPU code on intermediates in this thread's
/// scratch: the same bits as the unfused graph, which is what makes the fused op safe to build on every backend.
/// </summary>
internal static unsafe class DecoderLayer
{
    public static void T5(T5DecoderLayerOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64)
    {
        var inputs = x.ToArray();
        var s = op.SizesOf(Array.ConvertAll(inputs, t => t.Desc));
        CpuTensor In(L input) => inputs[(int)input];
        long innerRow = (long)s.Rows * s.Inner, modelRow = (long)s.Rows * s.Model;
        float* work = GemmScratch.Get(ScratchSlot.DecoderLayer, 4 * innerRow + 2 * modelRow + (long)s.Rows * s.FeedForward);
        var inner = new TensorDesc(DType.F32, new Shape(s.Rows, 1, s.Inner));
        var model = new TensorDesc(DType.F32, new Shape(s.Rows, 1, s.Model));
        CpuTensor q = new((byte*)work, inner), o = new((byte*)(work + innerRow), inner);
        CpuTensor crossQ = new((byte*)(work + 2 * innerRow), inner), crossO = new((byte*)(work + 3 * innerRow), inner);
        CpuTensor afterSelf = new((byte*)(work + 4 * innerRow), model), afterCross = new((byte*)(work + 4 * innerRow + modelRow), model);
        CpuTensor hidden = new((byte*)(work + 4 * innerRow + 2 * modelRow), new TensorDesc(DType.F32, new Shape(s.Rows, 1, s.FeedForward)));

        var withResidual = new LinearOp(false, HasResidual: true);
        Gemm.QkvProjection(new QkvProjectionOp(op.Eps), [In(L.X), In(L.Wq), In(L.Wk), In(L.Wv), In(L.KeyCache), In(L.ValueCache), In(L.Position), In(L.SelfNorm)], q, float64);
        Attention.Run(new AttentionOp(op.NumHeads, 1f, HasBias: true, HasMask: true, MaskBias: op.MaskBias),
            [q, In(L.KeyCache), In(L.ValueCache), In(L.Bias), In(L.SelfMask)], o);
        Gemm.Linear(withResidual, [o, In(L.Wo), In(L.X)], afterSelf, float64);
        Gemm.RmsNormLinear(new RmsNormLinearOp(op.Eps), [afterSelf, In(L.CrossNorm), In(L.CrossWq)], crossQ, float64);
        Attention.Run(new AttentionOp(op.NumHeads, 1f, HasMask: true, MaskBias: op.MaskBias),
            [crossQ, In(L.CrossKeys), In(L.CrossValues), In(L.CrossMask)], crossO);
        Gemm.Linear(withResidual, [crossO, In(L.CrossWo), afterSelf], afterCross, float64);
        Gemm.RmsNormGeGlu(new RmsNormGeGluOp(op.Eps), [afterCross, In(L.FfNorm), In(L.Wi0), In(L.Wi1)], hidden, float64);
        Gemm.Linear(withResidual, [hidden, In(L.WoFf), afterCross], y, float64);
    }
}
