using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class ShapeOps
{
    /// <summary>Tile edge of the blocked transpose: a tile of 8-byte elements is 8 KiB, within L1 on both sides.</summary>
    private const int Tile = 32;

    /// <summary>
    /// out dim i = input dim Perm[i]. After <see cref="PermutePlan"/> simplification: identity is one copy; when the
    /// input's innermost dim stays innermost, whole runs of it are copied (the (0, 2, 1, 3) head swap); otherwise the
    /// two innermost-moving dims are transposed in 32 × 32 tiles so reads and writes both stay cache-friendly.
    /// </summary>
    public static void Permute(PermuteOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        if (y.Length == 0) return;
        var plan = PermutePlan.Create(x[0].Shape, op.Perm);
        int size = y.Desc.DType.SizeOf();
        if (plan.IsIdentity)
        {
            long bytes = y.Desc.ByteSize;
            KernelParallel.For(bytes, ParallelBytes, new CopyBytes(x[0].Pointer, y.Pointer));
            return;
        }
        int inner = plan.InputInnermost, last = plan.Rank - 1;
        if (inner == last)
        {
            var outer = DimWalker.Except(plan, last, -1);
            long runBytes = plan.Size[last] * size;
            KernelParallel.For(outer.Count, Math.Max(1, ParallelBytes / runBytes), new PermuteRuns(x[0].Pointer, y.Pointer, outer, runBytes, size));
            return;
        }
        var others = DimWalker.Except(plan, inner, last);
        long bands = (plan.Size[last] + Tile - 1) / Tile;
        var tiles = new TransposeTiles(x[0].Pointer, y.Pointer, others, bands,
            plan.Size[inner], plan.OutputStride[inner], plan.Size[last], plan.InputStride[last], size);
        KernelParallel.For(others.Count * bands, Math.Max(1, ParallelBytes / (Tile * plan.Size[inner] * size)), tiles);
    }

    private readonly struct CopyBytes(byte* x, byte* y) : IRangeBody
    {
        public void Run(long start, long end) => Buffer.MemoryCopy(x + start, y + start, end - start, end - start);
    }

    private readonly struct PermuteRuns(byte* x, byte* y, DimWalker outer, long runBytes, int size) : IRangeBody
    {
        public void Run(long start, long end)
        {
            var walk = outer;
            walk.Start(start);
            for (long r = start; r < end; r++, walk.Advance())
                Buffer.MemoryCopy(x + walk.InputOffset * size, y + walk.OutputOffset * size, runBytes, runBytes);
        }
    }

    /// <summary>
    /// For each combination of the other dims, out[i·outStride + j] = in[j·inStride + i] with i the input's innermost dim
    /// and j the output's. One work item is a band of <see cref="Tile"/> values of j across all of i.
    /// </summary>
    private readonly struct TransposeTiles(byte* x, byte* y, DimWalker others, long bands,
        long innerSize, long outStride, long lastSize, long inStride, int size) : IRangeBody
    {
        public void Run(long start, long end)
        {
            var walk = others;
            for (long item = start; item < end; item++)
            {
                walk.Start(item / bands);
                long j0 = item % bands * Tile, j1 = Math.Min(j0 + Tile, lastSize);
                byte* src = x + walk.InputOffset * size, dst = y + walk.OutputOffset * size;
                switch (size)
                {
                    case 4: Band((int*)src, (int*)dst, j0, j1); break;
                    case 2: Band((short*)src, (short*)dst, j0, j1); break;
                    case 8: Band((long*)src, (long*)dst, j0, j1); break;
                    default: Band(src, dst, j0, j1); break;
                }
            }
        }

        private void Band<T>(T* src, T* dst, long j0, long j1) where T : unmanaged
        {
            for (long i0 = 0; i0 < innerSize; i0 += Tile)
            {
                long i1 = Math.Min(i0 + Tile, innerSize);
                for (long i = i0; i < i1; i++)
                {
                    T* o = dst + i * outStride;
                    T* s = src + i;
                    for (long j = j0; j < j1; j++) o[j] = s[j * inStride];
                }
            }
        }
    }
}
