using System.Runtime.Intrinsics;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// GEMM with float64 accumulation, for <see cref="CpuAccumulation.Float64"/>: float32 operands, each product and every
/// partial sum in double, one rounding to float at the end. A reference case's own float32 noise can use most of its
/// tolerance (pixelllm_densecap's greedy margins: 8e-5 of 1e-4); with double sums our share of the difference is
/// near zero, so what remains measures the reference, not two float32 summation orders added together.
/// Operands that are not K-contiguous are copied first, so every output is one straight dot product.
/// </summary>
internal static unsafe class GemmFloat64
{
    public static void Run(in GemmProblem p, bool allowParallel)
    {
        int m = p.M, n = p.N, k = p.K;
        // Rows of A and columns of B as K-contiguous runs: in place when they already are.
        float[]? aCopy = p.A.ColStride == 1 || k == 1 ? null : KContiguous(p.A.Ptr, m, k, p.A.RowStride, p.A.ColStride);
        float[]? bCopy = p.B.RowStride == 1 || k == 1 ? null : KContiguous(p.B.Ptr, n, k, p.B.ColStride, p.B.RowStride);
        var problem = p;
        void Row(int i)
        {
            fixed (float* ac = aCopy, bc = bCopy)
            {
                float* row = ac != null ? ac + (long)i * k : problem.A.Ptr + i * problem.A.RowStride;
                nint columnStride = bc != null ? k : problem.B.ColStride;
                float* columns = bc != null ? bc : problem.B.Ptr;
                float* output = problem.C + i * problem.Ldc;
                for (int j = 0; j < n; j++)
                    output[j] = (float)(Dot(row, columns + j * columnStride, k) * problem.Alpha + (problem.Bias == null ? 0.0 : problem.Bias[j]));
            }
        }
        if (allowParallel && p.MultiplyAdds >= GemmDriver.ParallelThreshold / 4 && m > 1) Parallel.For(0, m, Row);
        else for (int i = 0; i < m; i++) Row(i);
    }

    /// <summary>count runs of k floats, run r at ptr + r·runStride with elements stepStride apart, packed contiguously.</summary>
    private static float[] KContiguous(float* ptr, int count, int k, nint runStride, nint stepStride)
    {
        var packed = new float[(long)count * k];
        for (int r = 0; r < count; r++)
            for (int kk = 0; kk < k; kk++) packed[(long)r * k + kk] = ptr[r * runStride + kk * stepStride];
        return packed;
    }

    /// <summary>Σ a[i]·b[i] over k floats, every product and partial sum in double.</summary>
    private static double Dot(float* a, float* b, int k)
    {
        Vector256<double> acc0 = default, acc1 = default;
        int i = 0;
        for (; i <= k - 8; i += 8)
        {
            var (aLow, aHigh) = Vector256.Widen(Vector256.Load(a + i));
            var (bLow, bHigh) = Vector256.Widen(Vector256.Load(b + i));
            acc0 = Vector256.FusedMultiplyAdd(aLow, bLow, acc0);
            acc1 = Vector256.FusedMultiplyAdd(aHigh, bHigh, acc1);
        }
        double sum = Vector256.Sum(acc0 + acc1);
        for (; i < k; i++) sum += (double)a[i] * b[i];
        return sum;
    }
}
