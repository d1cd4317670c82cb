using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Kernels of the in-place ops: the output is the storage of input 0 (same address), so they only move the bytes that change.
/// Both are dtype-agnostic byte moves.
/// </summary>
internal static unsafe class StateUpdates
{
    [ThreadStatic] private static byte[]? scratch;

    public static void WriteAt(WriteAtOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var (values, position) = (x[1], x[2].I32[0]);
        int axis = y.Shape.NormalizeAxis(op.Axis), size = y.Shape[axis], count = values.Shape[axis];
        if (position < 0 || position > size - count)
            throw new InvalidInputException($"WriteAt: position {position} with {count} values does not fit axis {axis} of size {size} of {y.Desc}");
        long element = y.Desc.DType.SizeOf();
        long inner = y.Shape.Product(axis + 1, y.Shape.Rank) * element, outer = y.Shape.Product(0, axis);
        long chunk = count * inner;
        if (x[0].Pointer != y.Pointer) Buffer.MemoryCopy(x[0].Pointer, y.Pointer, y.Desc.ByteSize, y.Desc.ByteSize);
        for (long o = 0; o < outer; o++)
            Buffer.MemoryCopy(values.Pointer + o * chunk, y.Pointer + (o * size + position) * inner, chunk, chunk);
    }

    public static void ReorderRows(ReorderRowsOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var rows = x[1].I32;
        int count = rows.Length;
        bool identity = true;
        for (int r = 0; r < count; r++)
        {
            if ((uint)rows[r] >= (uint)count)
                throw new InvalidInputException($"ReorderRows: row index {rows[r]} at {r} is outside [0, {count}) for {y.Desc}");
            identity &= rows[r] == r;
        }
        if (x[0].Pointer != y.Pointer) Buffer.MemoryCopy(x[0].Pointer, y.Pointer, y.Desc.ByteSize, y.Desc.ByteSize);
        if (identity || count == 0) return;
        long rowBytes = y.Desc.ByteSize / count;
        long moveBytes = op.ValidPrefix ? PrefixBytes(y, rowBytes, x[op.LimitInput].I32[0]) : rowBytes;
        Reorder(rows, y, rowBytes, moveBytes);
        for (int i = 2; i <= op.Tensors; i++) Reorder(rows, x[i], rowBytes, moveBytes);
    }

    /// <summary>The bytes at the start of each row that hold its first <paramref name="limit"/> entries along axis 1 (clamped).</summary>
    private static long PrefixBytes(CpuTensor y, long rowBytes, int limit) =>
        rowBytes / y.Shape[1] * Math.Clamp(limit, 0, y.Shape[1]);

    /// <summary>Sources are read before any row is overwritten: every moving row's first <paramref name="moveBytes"/> are
    /// staged, then written back.</summary>
    private static void Reorder(ReadOnlySpan<int> rows, CpuTensor y, long rowBytes, long moveBytes)
    {
        int count = rows.Length;
        int moving = 0;
        for (int r = 0; r < count; r++) if (rows[r] != r) moving++;
        long need = moving * moveBytes;
        if (need == 0) return;
        if (scratch is null || scratch.LongLength < need) scratch = GC.AllocateUninitializedArray<byte>(checked((int)need), pinned: true);
        fixed (byte* stage = scratch)
        {
            long at = 0;
            for (int r = 0; r < count; r++)
                if (rows[r] != r) { Buffer.MemoryCopy(y.Pointer + rows[r] * rowBytes, stage + at, moveBytes, moveBytes); at += moveBytes; }
            at = 0;
            for (int r = 0; r < count; r++)
                if (rows[r] != r) { Buffer.MemoryCopy(stage + at, y.Pointer + r * rowBytes, moveBytes, moveBytes); at += moveBytes; }
        }
    }
}
