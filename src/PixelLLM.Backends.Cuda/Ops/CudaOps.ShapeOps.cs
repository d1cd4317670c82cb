using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>Data movement by element size: permute.cu, slice.cu, concat.cu, write_at.cu, reorder_rows.cu.</summary>
internal sealed partial class CudaOps
{
    private void Permute(PermuteOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var from = x[0].Shape.Strides();
        var strides = new long[op.Perm.Length];
        for (int d = 0; d < strides.Length; d++) strides[d] = from[op.Perm[d]];
        var (dims, merged) = StridedLayout.Coalesce(ShapeLongs(y.Shape), strides);
        Elements("permute.cu", $"permute_{Bytes(y)}", y.Count, Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I64(y.Count).I32(dims.Length)
            .Dims(Dims8.From(dims)).Dims(Dims8.From(merged[0])));
    }

    private void Slice(SliceOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        if (TrySliceRows(op, x[0], y)) return;
        var shape = x[0].Shape;
        int axis = shape.NormalizeAxis(op.Axis);
        long inner = shape.Product(axis + 1, shape.Rank);
        Elements("slice.cu", $"slice_{Bytes(y)}", y.Count, Args().Ptr(x[0].Ptr).Ptr(y.Ptr).I64(y.Count).I32(y.Shape[axis])
            .I64(Math.Max(1, inner)).I32(shape[axis]).I32(op.Start).I32(op.Step).I32(Wide(x[0].Count)));
    }

    private void Concat(ConcatOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        if (TryConcatRows(op, x, y)) return;
        int axis = y.Shape.NormalizeAxis(op.Axis);
        long inner = y.Shape.Product(axis + 1, y.Shape.Rank), yRun = y.Shape[axis] * inner, offset = 0;
        foreach (var part in x)
        {
            long run = part.Shape[axis] * inner;
            Elements("concat.cu", $"concat_{Bytes(y)}", part.Count, Args().Ptr(part.Ptr).Ptr(y.Ptr).I64(part.Count).I64(Math.Max(1, run)).I64(yRun).I64(offset).I32(Wide(y.Count)));
            offset += run;
        }
    }

    private void WriteAt(WriteAtOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var values = x[1];
        int axis = y.Shape.NormalizeAxis(op.Axis);
        long inner = y.Shape.Product(axis + 1, y.Shape.Rank);
        if (x[0].Ptr != y.Ptr) queue.Copy(y.Ptr, x[0].Ptr, y.Bytes);
        Elements("write_at.cu", $"write_at_{Bytes(y)}", values.Count, Args().Ptr(values.Ptr).Ptr(x[2].Ptr).Ptr(y.Ptr).I64(values.Count)
            .I32(values.Shape[axis]).I32(y.Shape[axis]).I64(inner).Ptr(queue.ErrorWord));
    }

    /// <summary>Rows (beams) up to which reorder_rows.cu reorders in place in one launch (its _r4 and _r16 kernels); more
    /// stage through scratch.</summary>
    internal const int ReorderInPlaceMaxRows = 16;

    private void ReorderRows(ReorderRowsOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int count = y.Shape[0];
        if (x[0].Ptr != y.Ptr) queue.Copy(y.Ptr, x[0].Ptr, y.Bytes);
        if (count == 0 || y.Count == 0) return;
        long rowElements = y.Count / count;
        // With a valid prefix the kernels move whole slots (axis 1) of a row, read against the limit on the device.
        long slotElements = op.ValidPrefix ? rowElements / y.Shape[1] : rowElements;
        ulong limit = op.ValidPrefix ? x[op.LimitInput].Ptr : 0;
        // y, then the other tensors (a beam step's caches): one launch (or stage and commit) per PointerTable64.Capacity of them.
        Span<ulong> all = stackalloc ulong[op.Tensors];
        all[0] = y.Ptr;
        for (int i = 2; i <= op.Tensors; i++) all[i - 1] = x[i].Ptr;
        int element = y.ElementSize;
        bool vectors = slotElements * element % 16 == 0;
        foreach (ulong p in all) vectors &= p % 16 == 0;
        for (int first = 0; first < all.Length; first += PointerTable64.Capacity)
        {
            var part = all.Slice(first, Math.Min(PointerTable64.Capacity, all.Length - first));
            var table = PointerTable64.From(part);
            if (count <= ReorderInPlaceMaxRows)
            {
                long perUnit = vectors ? 16 / element : 1;
                long units = rowElements / perUnit;
                uint blocks = (uint)Math.Clamp((units + Threads - 1) / Threads, 1, 4096);
                queue.Launch("reorder_rows.cu", $"reorder_rows_inplace_{(vectors ? "v16" : Bytes(y))}_r{(count <= 4 ? 4 : ReorderInPlaceMaxRows)}", (blocks, (uint)part.Length, 1), Threads,
                    Args().Pointers(table).Ptr(x[1].Ptr).I32(count).I64(units).Ptr(queue.ErrorWord).Ptr(limit).I64(slotElements / perUnit));
                continue;
            }
            ulong staged = queue.Scratch(0, y.Bytes * part.Length);
            Elements("reorder_rows.cu", $"reorder_rows_stage_{Bytes(y)}", y.Count * part.Length,
                Args().Pointers(table).I32(part.Length).Ptr(x[1].Ptr).Ptr(staged).I64(y.Count).I64(rowElements).I32(count).Ptr(queue.ErrorWord)
                    .Ptr(limit).I64(slotElements));
            Elements("reorder_rows.cu", $"reorder_rows_commit_{Bytes(y)}", y.Count * part.Length,
                Args().Ptr(staged).Pointers(table).I32(part.Length).I64(y.Count).Ptr(queue.ErrorWord).I64(rowElements).Ptr(limit).I64(slotElements));
        }
    }
}
