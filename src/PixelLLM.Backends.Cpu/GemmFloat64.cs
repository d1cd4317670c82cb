using System.Runtime.Intrinsics;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// GEMM with float64 accumulation, for <see cref="CpuAccumulation.Float64"/>: float32 operands, each product and every
/// partial sum in double, one rounding to float at the end. A reference case's own float32 noise can use most of its
/// tolerance (pixelllm_densecap's greedy margins: 8e-5 of 1e-4); with double sums our share of the difference is
/// near zero, so what remains measures the reference, not two float32 summation orders added together.
/// Both operands are first copied K-contiguous, so every output is one straight dot product.
/// </summary>
internal static unsafe class GemmFloat64
{
    private const int Columns = 4;

    public static void Run(in GemmProblem p, bool allowParallel)
    {
        int m = p.M, n = p.N, k = p.K;
        var a = new float[(long)m * k];
        var b = new float[(long)n * k];
        for (int i = 0; i < m; i++)
            for (int kk = 0; kk < k; kk++) a[(long)i * k + kk] = p.A.Ptr[i * p.A.RowStride + kk * p.A.ColStride];
        for (int j = 0; j < n; j++)
            for (int kk = 0; kk < k; kk++) b[(long)j * k + kk] = p.B.Ptr[kk * p.B.RowStride + j * p.B.ColStride];

        var problem = p;
        int columnBlocks = (n + Columns - 1) / Columns;
        void Row(int i)
        {
            fixed (float* pa = a, pb = b)
                for (int block = 0; block < columnBlocks; block++)
                    Tile(problem, pa + (long)i * k, pb, i, block * Columns, Math.Min(Columns, n - block * Columns));
        }
        if (allowParallel && p.MultiplyAdds >= GemmDriver.ParallelThreshold / 4 && m > 1) Parallel.For(0, m, Row);
        else for (int i = 0; i < m; i++) Row(i);
    }

    /// <summary>C[i, j0 .. j0+count) from one A row and up to four B columns.</summary>
    private static void Tile(in GemmProblem p, float* row, float* columns, int i, int j0, int count)
    {
        int k = p.K;
        Span<double> sums = stackalloc double[Columns];
        for (int c = 0; c < count; c++)
        {
            float* column = columns + (long)(j0 + c) * k;
            Vector256<double> acc0 = default, acc1 = default;
            int kk = 0;
            for (; kk <= k - 8; kk += 8)
            {
                var (aLow, aHigh) = Vector256.Widen(Vector256.Load(row + kk));
                var (bLow, bHigh) = Vector256.Widen(Vector256.Load(column + kk));
                acc0 = Vector256.FusedMultiplyAdd(aLow, bLow, acc0);
                acc1 = Vector256.FusedMultiplyAdd(aHigh, bHigh, acc1);
            }
            double sum = Vector256.Sum(acc0 + acc1);
            for (; kk < k; kk++) sum += (double)row[kk] * column[kk];
            sums[c] = sum;
        }
        float* output = p.C + i * p.Ldc + j0;
        for (int c = 0; c < count; c++)
            output[c] = (float)(sums[c] * p.Alpha + (p.Bias == null ? 0.0 : p.Bias[j0 + c]));
    }
}
