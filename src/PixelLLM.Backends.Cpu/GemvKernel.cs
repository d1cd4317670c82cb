using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Dot-product tiles for K-contiguous operands (a decode step against a Linear weight, or very few columns):
/// 2 rows × 4 columns of dot products at once, so each loaded vector feeds several FMAs.
/// </summary>
internal static unsafe class GemvKernel
{
    /// <summary>result[r·4 + c] = Σₚ a_r[p]·b_c[p] for r &lt; 2, c &lt; 4 (callers repeat a pointer for a missing row/column).</summary>
    public static void Tile(GemmIsa isa, float* a0, float* a1, float* b0, float* b1, float* b2, float* b3, int k, float* result)
    {
        if (isa == GemmIsa.Avx512 && Vector512.IsHardwareAccelerated) Tile512(a0, a1, b0, b1, b2, b3, k, result);
        else TileVector(a0, a1, b0, b1, b2, b3, k, result);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512(float* a0, float* a1, float* b0, float* b1, float* b2, float* b3, int k, float* result)
    {
        const int W = 16;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        int p = 0;
        for (; p + W <= k; p += W)
        {
            var x0 = Vector512.Load(a0 + p);
            var x1 = Vector512.Load(a1 + p);
            var y = Vector512.Load(b0 + p);
            s00 = Vector512.FusedMultiplyAdd(x0, y, s00); s10 = Vector512.FusedMultiplyAdd(x1, y, s10);
            y = Vector512.Load(b1 + p);
            s01 = Vector512.FusedMultiplyAdd(x0, y, s01); s11 = Vector512.FusedMultiplyAdd(x1, y, s11);
            y = Vector512.Load(b2 + p);
            s02 = Vector512.FusedMultiplyAdd(x0, y, s02); s12 = Vector512.FusedMultiplyAdd(x1, y, s12);
            y = Vector512.Load(b3 + p);
            s03 = Vector512.FusedMultiplyAdd(x0, y, s03); s13 = Vector512.FusedMultiplyAdd(x1, y, s13);
        }
        result[0] = Vector512.Sum(s00); result[1] = Vector512.Sum(s01); result[2] = Vector512.Sum(s02); result[3] = Vector512.Sum(s03);
        result[4] = Vector512.Sum(s10); result[5] = Vector512.Sum(s11); result[6] = Vector512.Sum(s12); result[7] = Vector512.Sum(s13);
        AddTail(a0, a1, b0, b1, b2, b3, p, k, result);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileVector(float* a0, float* a1, float* b0, float* b1, float* b2, float* b3, int k, float* result)
    {
        int w = Vector<float>.Count;
        Vector<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector<float> s10 = default, s11 = default, s12 = default, s13 = default;
        int p = 0;
        for (; p + w <= k; p += w)
        {
            var x0 = Vector.Load(a0 + p);
            var x1 = Vector.Load(a1 + p);
            var y = Vector.Load(b0 + p);
            s00 = Vector.MultiplyAddEstimate(x0, y, s00); s10 = Vector.MultiplyAddEstimate(x1, y, s10);
            y = Vector.Load(b1 + p);
            s01 = Vector.MultiplyAddEstimate(x0, y, s01); s11 = Vector.MultiplyAddEstimate(x1, y, s11);
            y = Vector.Load(b2 + p);
            s02 = Vector.MultiplyAddEstimate(x0, y, s02); s12 = Vector.MultiplyAddEstimate(x1, y, s12);
            y = Vector.Load(b3 + p);
            s03 = Vector.MultiplyAddEstimate(x0, y, s03); s13 = Vector.MultiplyAddEstimate(x1, y, s13);
        }
        result[0] = Vector.Sum(s00); result[1] = Vector.Sum(s01); result[2] = Vector.Sum(s02); result[3] = Vector.Sum(s03);
        result[4] = Vector.Sum(s10); result[5] = Vector.Sum(s11); result[6] = Vector.Sum(s12); result[7] = Vector.Sum(s13);
        AddTail(a0, a1, b0, b1, b2, b3, p, k, result);
    }

    private static void AddTail(float* a0, float* a1, float* b0, float* b1, float* b2, float* b3, int from, int k, float* result)
    {
        for (int p = from; p < k; p++)
        {
            result[0] += a0[p] * b0[p]; result[1] += a0[p] * b1[p]; result[2] += a0[p] * b2[p]; result[3] += a0[p] * b3[p];
            result[4] += a1[p] * b0[p]; result[5] += a1[p] * b1[p]; result[6] += a1[p] * b2[p]; result[7] += a1[p] * b3[p];
        }
    }
}
