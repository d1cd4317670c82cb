using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>BinaryOp (binary.cu): the broadcast layout coalesced, then a division-free row kernel whenever it fits.</summary>
internal sealed partial class CudaOps
{
    /// <summary>Below this many columns a rows launch wastes most of each block, so a (rows, cols) layout goes strided.</summary>
    private const int MinRowKernelCols = 64;

    private void Binary(BinaryOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (a, b) = (x[0], x[1]);
        if (y.Count == 0) return;
        var (dims, strides) = StridedLayout.Coalesce(ShapeLongs(y.Shape), Broadcast.Strides(a.Shape, y.Shape), Broadcast.Strides(b.Shape, y.Shape));
        var (sa, sb) = (strides[0], strides[1]);
        int rank = dims.Length;
        bool unitColumns = sa[^1] is 0 or 1 && sb[^1] is 0 or 1;
        if (unitColumns && (rank == 1 || (rank == 2 && dims[1] >= MinRowKernelCols)))
        {
            long rows = rank == 1 ? 1 : dims[0], cols = dims[^1];
            long aRow = rank == 1 ? 0 : sa[0], bRow = rank == 1 ? 0 : sb[0];
            BinaryRows(op, a, b, y, rows, cols, (aRow, (int)sa[^1]), (bRow, (int)sb[^1]));
            return;
        }
        Elements("binary.cu", $"binary_{Suffix(y.Type)}", y.Count, Args().Ptr(a.Ptr).Ptr(b.Ptr).Ptr(y.Ptr).I64(y.Count).I32(rank)
            .Dims(Dims8.From(dims)).Dims(Dims8.From(sa)).Dims(Dims8.From(sb)).I32((int)op.Kind).Ptr(queue.ErrorWord));
    }

    /// <summary>y (rows, cols) from a and b given as (row stride, column step 0 or 1); 16-byte vectors when every pointer allows.</summary>
    private void BinaryRows(BinaryOp op, DeviceTensor a, DeviceTensor b, DeviceTensor y, long rows, long cols,
        (long Row, int Col) sa, (long Row, int Col) sb)
    {
        int vector = 16 / y.ElementSize;
        bool Fits(ulong ptr, long rowStride, int colStep) => colStep == 0 || (ptr % 16 == 0 && (rows == 1 || rowStride % vector == 0));
        bool vectorised = cols >= vector && Fits(y.Ptr, cols, 1) && Fits(a.Ptr, sa.Row, sa.Col) && Fits(b.Ptr, sb.Row, sb.Col);
        string kernel = vectorised ? $"binary_rows_vec_{Suffix(y.Type)}" : $"binary_rows_{Suffix(y.Type)}";
        RowsGrid("binary.cu", kernel, rows, vectorised ? cols / vector : cols, Args().Ptr(a.Ptr).Ptr(b.Ptr).Ptr(y.Ptr).I64(rows).I64(cols)
            .I64(sa.Row).I32(sa.Col).I64(sb.Row).I32(sb.Col).I32((int)op.Kind).Ptr(queue.ErrorWord));
    }

    /// <summary>
    /// A 2-D grid-stride launch: grid.y walks rows (at most 65,535 of them at once), grid.x and the block walk
    /// <paramref name="units"/> per row (elements or vectors), with no more threads per block than a row needs.
    /// </summary>
    private void RowsGrid(string file, string kernel, long rows, long units, KernelArgs a)
    {
        if (rows <= 0) return;
        int threads = (int)Math.Clamp((units + 31) / 32 * 32, 32, Threads);
        uint blocksX = (uint)Math.Clamp((units + threads - 1) / threads, 1, 1 << 20);
        uint blocksY = (uint)Math.Min(rows, 65535);
        queue.Launch(file, kernel, (blocksX, blocksY, 1), threads, a);
    }

    /// <summary>linear.cu's epilogue y (rows, cols) += bias (cols); 16-byte vectors when both are aligned and cols allows.</summary>
    private void BiasRows(DeviceTensor y, DeviceTensor bias, long rows, int cols)
    {
        string s = FloatSuffix(y, "bias");
        int vector = 16 / y.ElementSize;
        bool vectorised = cols % vector == 0 && y.Ptr % 16 == 0 && bias.Ptr % 16 == 0;
        RowsGrid("linear.cu", vectorised ? $"linear_bias_vec_{s}" : $"linear_bias_{s}", rows, vectorised ? cols / vector : cols,
            Args().Ptr(y.Ptr).Ptr(bias.Ptr).I64(rows).I64(cols));
    }

    /// <summary>How many 16-byte vectors cover y: the thread count of a kernel that moves one vector per thread.</summary>
    private static long VectorUnits(DeviceTensor y) => (y.Count + 16 / y.ElementSize - 1) / (16 / y.ElementSize);
}
