using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>Slice and Concat as row copies (copy_rows.cu) whenever their contiguous runs are long enough to fill a warp.</summary>
internal sealed partial class CudaOps
{
    /// <summary>Shorter runs (in bytes) go to the per-element kernels, which keep every thread of a block busy.</summary>
    private const int MinCopyRunBytes = 128;

    /// <summary>A slice with step 1 copies one run per outer index; a strided slice one run of `inner` per kept index.</summary>
    private bool TrySliceRows(SliceOp op, DeviceTensor x, DeviceTensor y)
    {
        var shape = x.Shape;
        int axis = shape.NormalizeAxis(op.Axis), count = y.Shape[axis], dim = shape[axis];
        long inner = shape.Product(axis + 1, shape.Rank);
        if (y.Count == 0) return true;
        long outer = y.Count / (count * inner);
        return op.Step == 1
            ? CopyRows(x.Ptr, y.Ptr, y.ElementSize, outer, count * inner, 1, dim * inner, 0, op.Start * inner, count * inner, 0)
            : CopyRows(x.Ptr, y.Ptr, y.ElementSize, outer * count, inner, count, dim * inner, op.Step * inner, op.Start * inner, inner, 0);
    }

    /// <summary>Every part of a concat whose runs are long enough as row copies; false (nothing queued) if any is not.</summary>
    private bool TryConcatRows(ConcatOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int axis = y.Shape.NormalizeAxis(op.Axis);
        long inner = y.Shape.Product(axis + 1, y.Shape.Rank), yRun = y.Shape[axis] * inner;
        foreach (var part in x)
            if (part.Count > 0 && part.Shape[axis] * inner * y.ElementSize < MinCopyRunBytes) return false;
        long offset = 0;
        foreach (var part in x)
        {
            long run = part.Shape[axis] * inner;
            if (part.Count > 0) CopyRows(part.Ptr, y.Ptr, y.ElementSize, part.Count / run, run, 1, run, 0, 0, yRun, offset);
            offset += run;
        }
        return true;
    }

    /// <summary>
    /// Queues copy_rows in the widest unit (16 … element size bytes) that divides both pointers and every offset, stride
    /// and run; all arguments are in elements. Returns false, queuing nothing, when a run is too short to be worth it.
    /// </summary>
    private bool CopyRows(ulong src, ulong dst, int elementSize, long rows, long run, int count, long srcOuter, long srcStep,
        long srcOff, long dstRow, long dstOff)
    {
        if (run * elementSize < MinCopyRunBytes) return false;
        bool Fits(int unit) => src % (ulong)unit == 0 && dst % (ulong)unit == 0 &&
            new[] { run, srcOuter, srcStep, srcOff, dstRow, dstOff }.All(v => v * elementSize % unit == 0);
        int unit = 16;
        while (unit > elementSize && !Fits(unit)) unit /= 2;
        long k = unit / elementSize;
        RowsGrid("copy_rows.cu", $"copy_rows_b{unit}", rows, run / k, Args().Ptr(src).Ptr(dst).I64(rows).I64(run / k).I32(count)
            .I64(srcOuter / k).I64(srcStep / k).I64(srcOff / k).I64(dstRow / k).I64(dstOff / k));
        return true;
    }

    /// <summary>
    /// window_partition.cu: one row copy of C channels per output pixel, in the widest unit C·element size and every
    /// pointer allow; a partition's padded pixels copy <paramref name="padRow"/> (null: zeros).
    /// </summary>
    private void WindowRows(bool partition, DeviceTensor x, DeviceTensor y, int height, int width, int window, DeviceTensor? padRow = null)
    {
        int channels = y.Shape[3];
        long rowBytes = (long)channels * y.ElementSize;
        if (y.Count == 0) return;
        ulong pad = padRow?.Ptr ?? 0;
        int unit = 16;
        while (unit > y.ElementSize && (rowBytes % unit != 0 || (x.Ptr | y.Ptr | pad) % (ulong)unit != 0)) unit /= 2;
        long rows = y.Count / channels;
        var args = Args().Ptr(x.Ptr);
        if (partition) args.Ptr(pad);
        RowsGrid("window_partition.cu", $"{(partition ? "window_partition" : "window_unpartition")}_b{unit}", rows, rowBytes / unit,
            args.Ptr(y.Ptr).I64(rows).I32(height).I32(width).I32((int)(rowBytes / unit)).I32(window));
    }

    /// <summary>1 when a tensor of <paramref name="count"/> elements needs 64-bit offsets (the kernels' `wide` flag), else 0.</summary>
    private static int Wide(long count) => count > int.MaxValue ? 1 : 0;
}
