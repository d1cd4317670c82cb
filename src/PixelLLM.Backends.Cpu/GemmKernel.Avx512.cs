using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class GemmKernel
{
    /// <summary>6×32 tile in twelve zmm accumulators; each step loads two B vectors and broadcasts six A values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512(in MicroTile t)
    {
        const int W = 16; // floats per register
        nint rs = t.ARowStride, ks = t.AKStride, bs = t.BKStride;
        int last = t.Rows - 1; // rows past the end re-read the last valid row; their results are discarded
        float* a0 = t.A, a1 = t.A + Math.Min(1, last) * rs, a2 = t.A + Math.Min(2, last) * rs;
        float* a3 = t.A + Math.Min(3, last) * rs, a4 = t.A + Math.Min(4, last) * rs, a5 = t.A + Math.Min(5, last) * rs;
        float* b = t.B;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint o = 0;
        for (int p = 0; p < t.K; p++, o += ks, b += bs)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + W);
            var av = Vector512.Create(a0[o]);
            c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a1[o]);
            c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a2[o]);
            c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a3[o]);
            c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a4[o]);
            c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a5[o]);
            c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51);
        }

        if (t.Rows == MR && t.Cols == 2 * W)
        {
            var alpha = Vector512.Create(t.Alpha);
            Store512(t.C, c00, c01, alpha, t);
            Store512(t.C + t.Ldc, c10, c11, alpha, t);
            Store512(t.C + 2 * t.Ldc, c20, c21, alpha, t);
            Store512(t.C + 3 * t.Ldc, c30, c31, alpha, t);
            Store512(t.C + 4 * t.Ldc, c40, c41, alpha, t);
            Store512(t.C + 5 * t.Ldc, c50, c51, alpha, t);
            return;
        }
        float* tile = stackalloc float[MR * 2 * W];
        var s = Vector512.Create(t.Alpha);
        (c00 * s).Store(tile); (c01 * s).Store(tile + 1 * W);
        (c10 * s).Store(tile + 2 * W); (c11 * s).Store(tile + 3 * W);
        (c20 * s).Store(tile + 4 * W); (c21 * s).Store(tile + 5 * W);
        (c30 * s).Store(tile + 6 * W); (c31 * s).Store(tile + 7 * W);
        (c40 * s).Store(tile + 8 * W); (c41 * s).Store(tile + 9 * W);
        (c50 * s).Store(tile + 10 * W); (c51 * s).Store(tile + 11 * W);
        StorePartial(tile, 2 * W, t);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> v0, Vector512<float> v1, Vector512<float> alpha, in MicroTile t)
    {
        v0 *= alpha;
        v1 *= alpha;
        if (t.Bias != null) { v0 += Vector512.Load(t.Bias); v1 += Vector512.Load(t.Bias + Vector512<float>.Count); }
        if (t.Accumulate) { v0 += Vector512.Load(c); v1 += Vector512.Load(c + Vector512<float>.Count); }
        v0.Store(c);
        v1.Store(c + Vector512<float>.Count);
    }
}
