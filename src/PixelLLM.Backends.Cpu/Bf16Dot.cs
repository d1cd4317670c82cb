using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Dot products of f32 rows with bf16 rows, accumulated in f32: each bf16 value is widened exactly (its 16 bits become
/// the top half of an f32), so the result equals the f32 dot product with the bf16-rounded weights. A decode step is
/// bound by weight bytes, so reading half of them is the point; the widening is a shift, cheap next to the load.
/// (.NET 10 exposes no AVX512-BF16 <c>vdpbf16ps</c>, which would also round the activations to bf16.)
/// </summary>
internal static unsafe class Bf16Dot
{
    /// <summary>
    /// result[r·4 + c] = Σₚ a_r[p]·widen(b_c[p]) for c &lt; 4 and r &lt; <paramref name="rows"/> (1 or 2; a1 is ignored
    /// when 1). Callers repeat a pointer for a missing column.
    /// </summary>
    public static void Tile(int rows, float* a0, float* a1, ushort* b0, ushort* b1, ushort* b2, ushort* b3, int k, float* result)
    {
        int p = Vector512.IsHardwareAccelerated ? Tile512(rows, a0, a1, b0, b1, b2, b3, k, result)
            : TileVector(rows, a0, a1, b0, b1, b2, b3, k, result);
        for (; p < k; p++)
        {
            float w0 = Widen(b0[p]), w1 = Widen(b1[p]), w2 = Widen(b2[p]), w3 = Widen(b3[p]);
            result[0] += a0[p] * w0; result[1] += a0[p] * w1; result[2] += a0[p] * w2; result[3] += a0[p] * w3;
            if (rows == 2) { result[4] += a1[p] * w0; result[5] += a1[p] * w1; result[6] += a1[p] * w2; result[7] += a1[p] * w3; }
        }
    }

    /// <summary>
    /// <see cref="Tile"/> for four rows at once where the CPU has 512-bit vectors (32 registers hold the 16 sums): each
    /// weight vector is widened once for four rows instead of twice. Every row's sums are the same chained FMAs as in
    /// <see cref="Tile"/>, so its bits do not depend on the tiling. False (nothing written) without 512-bit vectors.
    /// </summary>
    public static bool Tile4(float* a0, float* a1, float* a2, float* a3, ushort* b0, ushort* b1, ushort* b2, ushort* b3, int k, float* result)
    {
        if (!Vector512.IsHardwareAccelerated) return false;
        int p = Tile512x4(a0, a1, a2, a3, b0, b1, b2, b3, k, result);
        float** rows = stackalloc float*[] { a0, a1, a2, a3 };
        for (; p < k; p++)
        {
            float w0 = Widen(b0[p]), w1 = Widen(b1[p]), w2 = Widen(b2[p]), w3 = Widen(b3[p]);
            for (int r = 0; r < 4; r++)
            {
                float a = rows[r][p];
                result[r * 4] += a * w0; result[r * 4 + 1] += a * w1; result[r * 4 + 2] += a * w2; result[r * 4 + 3] += a * w3;
            }
        }
        return true;
    }

    public static float Widen(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>destination[i] = widen(source[i]) for i &lt; count, vectorised (a weight block before an f32 GEMM).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WidenInto(ushort* source, float* destination, long count)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 32 <= count; i += 32)
            {
                var (low, high) = Widen512(source + i);
                low.Store(destination + i);
                high.Store(destination + i + 16);
            }
        else
            for (int w = Vector<ushort>.Count; i + w <= count; i += w)
            {
                Vector.Widen(Vector.Load(source + i), out Vector<uint> lo, out Vector<uint> hi);
                Vector.AsVectorSingle(Vector.ShiftLeft(lo, 16)).Store(destination + i);
                Vector.AsVectorSingle(Vector.ShiftLeft(hi, 16)).Store(destination + i + Vector<float>.Count);
            }
        for (; i < count; i++) destination[i] = Widen(source[i]);
    }

    // 32 weights per column per iteration: one 64-byte load widened into two 16-lane halves.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Tile512(int rows, float* a0, float* a1, ushort* b0, ushort* b1, ushort* b2, ushort* b3, int k, float* result)
    {
        const int W = 32;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        int p = 0;
        if (rows == 2)
        {
            for (; p + W <= k; p += W)
            {
                var x0l = Vector512.Load(a0 + p); var x0h = Vector512.Load(a0 + p + 16);
                var x1l = Vector512.Load(a1 + p); var x1h = Vector512.Load(a1 + p + 16);
                var (l, h) = Widen512(b0 + p); s00 = Fma(x0l, l, Fma(x0h, h, s00)); s10 = Fma(x1l, l, Fma(x1h, h, s10));
                (l, h) = Widen512(b1 + p); s01 = Fma(x0l, l, Fma(x0h, h, s01)); s11 = Fma(x1l, l, Fma(x1h, h, s11));
                (l, h) = Widen512(b2 + p); s02 = Fma(x0l, l, Fma(x0h, h, s02)); s12 = Fma(x1l, l, Fma(x1h, h, s12));
                (l, h) = Widen512(b3 + p); s03 = Fma(x0l, l, Fma(x0h, h, s03)); s13 = Fma(x1l, l, Fma(x1h, h, s13));
            }
        }
        else
        {
            // One row sums exactly as a row of a pair does (the same chained FMAs), so a row's bits never depend on
            // whether it was paired: a decode step's prompt gets the same logits alone and in a batch. Four column
            // chains of two FMAs per 256 weight bytes stay far inside what the memory bound leaves.
            for (; p + W <= k; p += W)
            {
                var x0l = Vector512.Load(a0 + p); var x0h = Vector512.Load(a0 + p + 16);
                var (l, h) = Widen512(b0 + p); s00 = Fma(x0l, l, Fma(x0h, h, s00));
                (l, h) = Widen512(b1 + p); s01 = Fma(x0l, l, Fma(x0h, h, s01));
                (l, h) = Widen512(b2 + p); s02 = Fma(x0l, l, Fma(x0h, h, s02));
                (l, h) = Widen512(b3 + p); s03 = Fma(x0l, l, Fma(x0h, h, s03));
            }
        }
        result[0] = Vector512.Sum(s00); result[1] = Vector512.Sum(s01); result[2] = Vector512.Sum(s02); result[3] = Vector512.Sum(s03);
        result[4] = Vector512.Sum(s10); result[5] = Vector512.Sum(s11); result[6] = Vector512.Sum(s12); result[7] = Vector512.Sum(s13);
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Tile512x4(float* a0, float* a1, float* a2, float* a3, ushort* b0, ushort* b1, ushort* b2, ushort* b3, int k, float* result)
    {
        const int W = 32;
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
        int p = 0;
        for (; p + W <= k; p += W)
        {
            var x0l = Vector512.Load(a0 + p); var x0h = Vector512.Load(a0 + p + 16);
            var x1l = Vector512.Load(a1 + p); var x1h = Vector512.Load(a1 + p + 16);
            var x2l = Vector512.Load(a2 + p); var x2h = Vector512.Load(a2 + p + 16);
            var x3l = Vector512.Load(a3 + p); var x3h = Vector512.Load(a3 + p + 16);
            var (l, h) = Widen512(b0 + p);
            s00 = Fma(x0l, l, Fma(x0h, h, s00)); s10 = Fma(x1l, l, Fma(x1h, h, s10));
            s20 = Fma(x2l, l, Fma(x2h, h, s20)); s30 = Fma(x3l, l, Fma(x3h, h, s30));
            (l, h) = Widen512(b1 + p);
            s01 = Fma(x0l, l, Fma(x0h, h, s01)); s11 = Fma(x1l, l, Fma(x1h, h, s11));
            s21 = Fma(x2l, l, Fma(x2h, h, s21)); s31 = Fma(x3l, l, Fma(x3h, h, s31));
            (l, h) = Widen512(b2 + p);
            s02 = Fma(x0l, l, Fma(x0h, h, s02)); s12 = Fma(x1l, l, Fma(x1h, h, s12));
            s22 = Fma(x2l, l, Fma(x2h, h, s22)); s32 = Fma(x3l, l, Fma(x3h, h, s32));
            (l, h) = Widen512(b3 + p);
            s03 = Fma(x0l, l, Fma(x0h, h, s03)); s13 = Fma(x1l, l, Fma(x1h, h, s13));
            s23 = Fma(x2l, l, Fma(x2h, h, s23)); s33 = Fma(x3l, l, Fma(x3h, h, s33));
        }
        result[0] = Vector512.Sum(s00); result[1] = Vector512.Sum(s01); result[2] = Vector512.Sum(s02); result[3] = Vector512.Sum(s03);
        result[4] = Vector512.Sum(s10); result[5] = Vector512.Sum(s11); result[6] = Vector512.Sum(s12); result[7] = Vector512.Sum(s13);
        result[8] = Vector512.Sum(s20); result[9] = Vector512.Sum(s21); result[10] = Vector512.Sum(s22); result[11] = Vector512.Sum(s23);
        result[12] = Vector512.Sum(s30); result[13] = Vector512.Sum(s31); result[14] = Vector512.Sum(s32); result[15] = Vector512.Sum(s33);
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TileVector(int rows, float* a0, float* a1, ushort* b0, ushort* b1, ushort* b2, ushort* b3, int k, float* result)
    {
        int w = Vector<ushort>.Count, half = Vector<float>.Count;
        Span<Vector<float>> s = stackalloc Vector<float>[8];
        var cols = stackalloc ushort*[] { b0, b1, b2, b3 };
        int p = 0;
        for (; p + w <= k; p += w)
        {
            var x0l = Vector.Load(a0 + p); var x0h = Vector.Load(a0 + p + half);
            var x1l = rows == 2 ? Vector.Load(a1 + p) : default; var x1h = rows == 2 ? Vector.Load(a1 + p + half) : default;
            for (int c = 0; c < 4; c++)
            {
                Vector.Widen(Vector.Load(cols[c] + p), out Vector<uint> lo, out Vector<uint> hi);
                var l = Vector.AsVectorSingle(Vector.ShiftLeft(lo, 16));
                var h = Vector.AsVectorSingle(Vector.ShiftLeft(hi, 16));
                s[c] = Vector.MultiplyAddEstimate(x0l, l, Vector.MultiplyAddEstimate(x0h, h, s[c]));
                if (rows == 2) s[4 + c] = Vector.MultiplyAddEstimate(x1l, l, Vector.MultiplyAddEstimate(x1h, h, s[4 + c]));
            }
        }
        for (int i = 0; i < 8; i++) result[i] = Vector.Sum(s[i]);
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Low, Vector512<float> High) Widen512(ushort* b)
    {
        var (lo, hi) = Vector512.Widen(Vector512.Load(b));
        return (Vector512.ShiftLeft(lo, 16).AsSingle(), Vector512.ShiftLeft(hi, 16).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
}
