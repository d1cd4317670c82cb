using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// GridAttentionOp as the ops it stands for (<see cref="GridAttentionOp.RunAsOps{T}"/>), each run by its own CPU code on
/// intermediates in this thread's scratch: the same bits as the graph of those ops.
/// </summary>
internal static unsafe class GridAttention
{
    public static void Run(GridAttentionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64, DType storage)
    {
        var descs = new TensorDesc[x.Length];
        for (int i = 0; i < x.Length; i++) descs[i] = x[i].Desc;
        var needed = op.Intermediates(descs);
        long floats = 0;
        foreach (var d in needed) floats += d is null ? 0 : (d.ByteSize + 63) / 64 * 16;
        float* at = GemmScratch.Get(ScratchSlot.GridAttention, floats);
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
}
