using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// GridAttentionOp and RotaryAttentionOp as the ops they stand for (their RunAsOps), each step run by its own CPU code on
/// intermediates in this thread's scratch: the same bits as the graph of those ops.
/// </summary>
internal static unsafe class AttentionSteps
{
    public static void Grid(GridAttentionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage)
    {
        var descs = new TensorDesc[x.Length];
        for (int i = 0; i < x.Length; i++) descs[i] = x[i].Desc;
        var needed = op.Intermediates(descs);
        long floats = 0;
        foreach (var d in needed) floats += d is null ? 0 : (d.ByteSize + 63) / 64 * 16;
        float* at = GemmScratch.Get(ScratchSlot.AttentionSteps, floats);
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
        var rotated = new CpuTensor((byte*)GemmScratch.Get(ScratchSlot.AttentionSteps, (x[0].Desc.ByteSize + 3) / 4), x[0].Desc);
        op.RunAsOps(x.ToArray(), rotated, y, x[0].Shape[2] / 3, (step, inputs, output) => CpuBackend.Dispatch(step, inputs, output, float64, storage));
    }
}
