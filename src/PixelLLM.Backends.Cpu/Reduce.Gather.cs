using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Reduce
{
    /// <summary>out[..., j] = x[..., idx[..., j]] for any dtype; an index outside [0, N) is rejected before anything is written.</summary>
    public static void TakeAlongLast(TakeAlongLastOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var (source, idx) = (x[0], x[1]);
        int width = source.Shape[-1], k = idx.Shape[-1];
        if (y.Length == 0) return;
        var indices = idx.I32;
        for (int i = 0; i < indices.Length; i++)
            if ((uint)indices[i] >= (uint)width)
                throw new InvalidInputException($"TakeAlongLast: index {indices[i]} at position {i} of {idx.Desc} is outside [0, {width}) for {source.Desc}");
        int size = source.Desc.DType.SizeOf();
        long rows = y.Length / k;
        for (long r = 0; r < rows; r++)
        {
            byte* src = source.Pointer + r * width * size, dst = y.Pointer + r * k * size;
            int* ix = (int*)idx.Pointer + r * k;
            switch (size)
            {
                case 4: for (int j = 0; j < k; j++) ((int*)dst)[j] = ((int*)src)[ix[j]]; break;
                case 8: for (int j = 0; j < k; j++) ((long*)dst)[j] = ((long*)src)[ix[j]]; break;
                case 2: for (int j = 0; j < k; j++) ((short*)dst)[j] = ((short*)src)[ix[j]]; break;
                default: for (int j = 0; j < k; j++) dst[j] = src[ix[j]]; break;
            }
        }
    }

    /// <summary>Row gather from table (V, D) by I32/I64 ids of any shape; every id is checked against [0, V) first.</summary>
    public static void Embedding(EmbeddingOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var (table, ids) = (x[0], x[1]);
        long vocab = table.Shape[0];
        int count = ids.Length;
        for (int i = 0; i < count; i++)
        {
            long id = IdAt(ids, i);
            if ((ulong)id >= (ulong)vocab)
                throw new InvalidInputException($"Embedding: id {id} at position {i} of {ids.Desc} is outside [0, {vocab}) for table {table.Desc}");
        }
        long rowBytes = table.Shape[1] * (long)table.Desc.DType.SizeOf();
        KernelParallel.For(count, Math.Max(1, (ParallelGrain * 4) / Math.Max(rowBytes, 1)), new EmbeddingRows(table, ids, y, rowBytes));
    }

    /// <summary>
    /// T5's relative-position bias by distance: each distance's bucket computed once and its row of the table (buckets, H)
    /// copied to the H rows of y (1, H, Lq + Lk − 1), in the table's dtype.
    /// </summary>
    public static void T5PositionBias(T5PositionBiasOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var table = x[0];
        int heads = table.Shape[1], size = table.Desc.DType.SizeOf(), distances = op.Distances;
        long start = op.QueryOffset + (op.HasPosition ? x[1].I32[0] : 0);
        for (int d = 0; d < distances; d++)
        {
            int relative = (int)Math.Clamp(op.Relative(d, start), -int.MaxValue, int.MaxValue);
            int bucket = T5PositionBiasOp.Bucket(relative, op.Bidirectional, op.NumBuckets, op.MaxDistance);
            byte* row = table.Pointer + (long)bucket * heads * size, at = y.Pointer + (long)d * size;
            for (int h = 0; h < heads; h++) Buffer.MemoryCopy(row + h * size, at + (long)h * distances * size, size, size);
        }
    }

    private static long IdAt(CpuTensor ids, long i) => ids.Desc.DType == DType.I64 ? ((long*)ids.Pointer)[i] : ((int*)ids.Pointer)[i];

    private readonly struct EmbeddingRows(CpuTensor table, CpuTensor ids, CpuTensor y, long rowBytes) : IRangeBody
    {
        public void Run(long start, long end)
        {
            for (long i = start; i < end; i++)
                Buffer.MemoryCopy(table.Pointer + IdAt(ids, i) * rowBytes, y.Pointer + i * rowBytes, rowBytes, rowBytes);
        }
    }
}
