using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// The ops that stand for several ops (GridAttentionOp, RotaryAttentionOp, MlpOp, SwiGluNormOp), run as those ops (their RunAsOps),
/// each step by its own CPU code on intermediates in this thread's scratch: the same bits as the graph of those ops.
/// </summary>
internal static unsafe class StepOps
{
    public static void Grid(GridAttentionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage)
    {
        var descs = Descriptions(x);
        op.RunAsOps(op.SizesOf(descs), x.ToArray(), Scratch(op.Intermediates(descs)), y, Steps(float64, storage),
            (t, shape) => new CpuTensor(t.Pointer, t.Desc with { Shape = shape }));
    }

    public static void Rotary(RotaryAttentionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage) =>
        op.RunAsOps(x.ToArray(), Scratch([x[0].Desc])[0], y, x[0].Shape[2] / 3, Steps(float64, storage));

    public static void Mlp(MlpOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage) =>
        op.RunAsOps(x.ToArray(), Scratch(op.Intermediates(Descriptions(x))), y, Steps(float64, storage));

    public static void SwiGluNorm(SwiGluNormOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage) =>
        op.RunAsOps(x.ToArray(), Scratch([y.Desc])[0], y, Steps(float64, storage));

    /// <summary>Each step through the one dispatch, with the caller's GEMM summation and storage rounding.</summary>
    private static Action<Op, CpuTensor[], CpuTensor> Steps(bool float64, DType storage) =>
        (step, inputs, output) => CpuBackend.Dispatch(step, inputs, output, float64, storage);

    /// <summary>
    /// Tensors of these descriptions side by side in this thread's step-op scratch, 64-byte aligned (a null description
    /// gets no storage). The steps' own kernels use other slots.
    /// </summary>
    private static CpuTensor[] Scratch(IReadOnlyList<TensorDesc?> descs)
    {
        static long Floats(TensorDesc? d) => d is null ? 0 : (d.ByteSize + 63) / 64 * 16;
        float* at = GemmScratch.Get(ScratchSlot.OpSteps, descs.Sum(Floats));
        var tensors = new CpuTensor[descs.Count];
        for (int i = 0; i < descs.Count; i++)
        {
            if (descs[i] is { } d) tensors[i] = new CpuTensor((byte*)at, d);
            at += Floats(descs[i]);
        }
        return tensors;
    }

    private static TensorDesc[] Descriptions(ReadOnlySpan<CpuTensor> x)
    {
        var descs = new TensorDesc[x.Length];
        for (int i = 0; i < x.Length; i++) descs[i] = x[i].Desc;
        return descs;
    }
}
