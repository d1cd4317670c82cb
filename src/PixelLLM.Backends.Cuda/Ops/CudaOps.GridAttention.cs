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
    private void GridAttention(GridAttentionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var descs = Descriptions(x);
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
        op.RunAsOps(s, x.ToArray(), ScratchTensors(op.Intermediates(descs), y.Type), y, (step, inputs, output) => Dispatch(step, inputs, output),
            (t, shape) => t with { Desc = t.Desc with { Shape = shape } });
    }

    /// <summary>
    /// grid_attention.cu's term pitch and dynamic shared memory, or Shared 0 where it has no kernel for the call: 16-bit
    /// storage, a head dim it has a kernel for, qkv rows, bases and pad row 16-byte aligned (cp.async), tables 4-byte,
    /// the block's shared memory within the device's limit, the windows within a grid's z.
    /// </summary>
    private (int TermPitch, int Shared) GridAttentionLayout(GridAttentionOp op, GridAttentionOp.Sizes s, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        if (y.Type is not (DType.BF16 or DType.F16) || !AllStoredAs(x, y.Type) || Array.IndexOf(MmaHeadDims, s.HeadDim) < 0 || s.Maps > MaxGridZ)
            return (0, 0);
        if (x[0].Ptr % 16 != 0 || y.Ptr % 4 != 0 || (op.HasPadRow && x[1].Ptr % 16 != 0)) return (0, 0);
        if (op.HasRelPos && (x[op.RelPosInput].Ptr % 4 != 0 || x[op.RelPosInput + 1].Ptr % 4 != 0)) return (0, 0);
        // Rows are 3·C elements: 16-byte aligned when C is a multiple of 8, which a head dim the kernel has makes it.
        int terms = op.HasRelPos ? 2 * s.SpanH - 1 + 2 * s.SpanW - 1 : 0;
        int termPitch = terms == 0 ? 0 : terms | 1;
        return (termPitch, MmaSharedBytes(s.HeadDim, y.ElementSize, termPitch));
    }
}
