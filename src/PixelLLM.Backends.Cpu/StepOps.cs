using PixelLLM.Runtime;
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
        var needed = op.Intermediates(descs);
        long floats = 0;
        foreach (var d in needed) floats += d is null ? 0 : (d.ByteSize + 63) / 64 * 16;
        float* at = GemmScratch.Get(ScratchSlot.OpSteps, floats);
        var intermediates = new CpuTensor[needed.Length];
        for (int i = 0; i < needed.Length; i++)
        {
            if (needed[i] is not { } d) continue;
            intermediates[i] = new CpuTensor((byte*)at, d);
            at += (d.ByteSize + 63) / 64 * 16;
        }
        op.RunAsOps(op.SizesOf(descs), x.ToArray(), intermediates, y,
            (step, inputs, output) => CpuBackend.Dispatch(step, inputs, output, float64, storage),
            (t, shape) => new CpuTensor(t.Pointer, t.Desc with { Shape = shape }));
    }

    public static void Rotary(RotaryAttentionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage)
    {
        var rotated = new CpuTensor((byte*)GemmScratch.Get(ScratchSlot.OpSteps, (x[0].Desc.ByteSize + 3) / 4), x[0].Desc);
        op.RunAsOps(x.ToArray(), rotated, y, x[0].Shape[2] / 3, (step, inputs, output) => CpuBackend.Dispatch(step, inputs, output, float64, storage));
    }

    public static void Mlp(MlpOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage)
    {
        var needed = op.Intermediates(Descriptions(x));
        long floats = 0;
        foreach (var d in needed) floats += (d.ByteSize + 63) / 64 * 16;
        float* at = GemmScratch.Get(ScratchSlot.OpSteps, floats);
        var intermediates = new CpuTensor[needed.Length];
        for (int i = 0; i < needed.Length; i++)
        {
            intermediates[i] = new CpuTensor((byte*)at, needed[i]);
            at += (needed[i].ByteSize + 63) / 64 * 16;
        }
        op.RunAsOps(x.ToArray(), intermediates, y, (step, inputs, output) => CpuBackend.Dispatch(step, inputs, output, float64, storage));
    }

    public static void SwiGluNorm(SwiGluNormOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage)
    {
        var gated = new CpuTensor((byte*)GemmScratch.Get(ScratchSlot.OpSteps, (y.Desc.ByteSize + 3) / 4), y.Desc);
        op.RunAsOps(x.ToArray(), gated, y, (step, inputs, output) => CpuBackend.Dispatch(step, inputs, output, float64, storage));
    }

    private static TensorDesc[] Descriptions(ReadOnlySpan<CpuTensor> x)
    {
        var descs = new TensorDesc[x.Length];
        for (int i = 0; i < x.Length; i++) descs[i] = x[i].Desc;
        return descs;
    }
}
