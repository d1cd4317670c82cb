using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// GridAttentionOp (SAM's attention blocks). With <see cref="IDeviceQueue.FusedGridAttention"/> and a shape it has a
/// kernel for, grid_attention.cu's one launch: windows read where they lie, rel-pos terms computed in the block. Else the
/// op's steps (<see cref="GridAttentionOp.RunAsOps{T}"/>: partition, terms, attention, un-partition), each as its own op
/// launches it, on intermediates in a scratch slot: the launches the graph of those ops made.
/// </summary>
internal sealed partial class CudaOps
{
    /// <summary>The scratch slot of the step ops' intermediates (GridAttention, RotaryAttention, Mlp; the steps' own ops use slots 0-3).</summary>
    private const int OpStepsSlot = 6;

    private void GridAttention(GridAttentionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var descs = new TensorDesc[x.Length];
        for (int i = 0; i < x.Length; i++) descs[i] = x[i].Desc;
        var s = op.SizesOf(descs);
        if (y.Count == 0) return;
        if (queue.FusedGridAttention && GridAttentionLayout(op, s, x, y) is var (termPitch, shared) && shared > 0)
        {
            int tables = op.RelPosInput;
            int windowsH = (s.Height + s.SpanH - 1) / s.SpanH, windowsW = (s.Width + s.SpanW - 1) / s.SpanW;
            queue.Launch("grid_attention.cu", $"grid_attention_d{s.HeadDim}_{FloatSuffix(y, "GridAttention")}",
                ((uint)((s.Tokens + MmaRowsPerBlock - 1) / MmaRowsPerBlock), (uint)op.NumHeads, (uint)s.Maps), MmaThreads,
                Args().Ptr(x[0].Ptr).Ptr(op.HasPadRow ? x[1].Ptr : 0).Ptr(op.HasRelPos ? x[tables].Ptr : 0).Ptr(op.HasRelPos ? x[tables + 1].Ptr : 0)
                    .Ptr(y.Ptr).I32(op.NumHeads).I32(s.Height).I32(s.Width).I32(s.SpanH).I32(s.SpanW).I32(windowsH).I32(windowsW)
                    .F32(op.Scale).I32(termPitch),
                shared);
            return;
        }
        var needed = op.Intermediates(descs);
        var intermediates = new DeviceTensor[needed.Length];
        long total = 0;
        foreach (var d in needed) total += d is null ? 0 : AlignedBytes(d.ElementCount * y.ElementSize);
        ulong at = total == 0 ? 0 : queue.Scratch(OpStepsSlot, total);
        for (int i = 0; i < needed.Length; i++)
        {
            if (needed[i] is not { } d) continue;
            intermediates[i] = new DeviceTensor(at, d, y.Type);
            at += (ulong)AlignedBytes(d.ElementCount * y.ElementSize);
        }
        op.RunAsOps(s, x.ToArray(), intermediates, y, (step, inputs, output) => Dispatch(step, inputs, output),
            (t, shape) => t with { Desc = t.Desc with { Shape = shape } });
    }

    private static long AlignedBytes(long bytes) => (bytes + 255) / 256 * 256;

    /// <summary>
    /// grid_attention.cu's term pitch and dynamic shared memory, or Shared 0 where it has no kernel for the call: 16-bit
    /// storage, a head dim it has a kernel for, qkv rows, bases and pad row 16-byte aligned (cp.async), tables 4-byte,
    /// the block's shared memory within the device's limit, the windows within a grid's z.
    /// </summary>
    private (int TermPitch, int Shared) GridAttentionLayout(GridAttentionOp op, GridAttentionOp.Sizes s, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        if (y.Type is not (DType.BF16 or DType.F16) || Array.IndexOf(MmaHeadDims, s.HeadDim) < 0 || s.Maps > MaxGridZ) return (0, 0);
        foreach (var t in x)
            if (t.Type != y.Type) return (0, 0);
        if (x[0].Ptr % 16 != 0 || y.Ptr % 4 != 0 || (op.HasPadRow && x[1].Ptr % 16 != 0)) return (0, 0);
        if (op.HasRelPos && (x[op.RelPosInput].Ptr % 4 != 0 || x[op.RelPosInput + 1].Ptr % 4 != 0)) return (0, 0);
        // Rows are 3·C elements: 16-byte aligned when C is a multiple of 8, which a head dim the kernel has makes it.
        int terms = op.HasRelPos ? 2 * s.SpanH - 1 + 2 * s.SpanW - 1 : 0;
        int termPitch = terms == 0 ? 0 : terms | 1;
        return (termPitch, MmaSharedBytes(s.HeadDim, y.ElementSize, termPitch));
    }
}
