using System.Runtime.CompilerServices;
using System.Numerics;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class GemmKernel
{
    /// <summary>The same 6 × 2-register tile on <see cref="Vector{T}"/>, for CPUs without AVX (e.g. Arm NEON).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Portable(in MicroTile t)
    {
        int W = Vector<float>.Count; // floats per register
        nint rs = t.ARowStride, ks = t.AKStride, bs = t.BKStride;
        int last = t.Rows - 1; // rows past the end re-read the last valid row; their results are discarded
        float* a0 = t.A, a1 = t.A + Math.Min(1, last) * rs, a2 = t.A + Math.Min(2, last) * rs;
        float* a3 = t.A + Math.Min(3, last) * rs, a4 = t.A + Math.Min(4, last) * rs, a5 = t.A + Math.Min(5, last) * rs;
        float* b = t.B;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint o = 0;
        for (int p = 0; p < t.K; p++, o += ks, b += bs)
        {
            var b0 = Vector.Load(b);
            var b1 = Vector.Load(b + W);
            var av = new Vector<float>(a0[o]);
            c00 = Vector.MultiplyAddEstimate(av, b0, c00); c01 = Vector.MultiplyAddEstimate(av, b1, c01);
            av = new Vector<float>(a1[o]);
            c10 = Vector.MultiplyAddEstimate(av, b0, c10); c11 = Vector.MultiplyAddEstimate(av, b1, c11);
            av = new Vector<float>(a2[o]);
            c20 = Vector.MultiplyAddEstimate(av, b0, c20); c21 = Vector.MultiplyAddEstimate(av, b1, c21);
            av = new Vector<float>(a3[o]);
            c30 = Vector.MultiplyAddEstimate(av, b0, c30); c31 = Vector.MultiplyAddEstimate(av, b1, c31);
            av = new Vector<float>(a4[o]);
            c40 = Vector.MultiplyAddEstimate(av, b0, c40); c41 = Vector.MultiplyAddEstimate(av, b1, c41);
            av = new Vector<float>(a5[o]);
            c50 = Vector.MultiplyAddEstimate(av, b0, c50); c51 = Vector.MultiplyAddEstimate(av, b1, c51);
        }

        if (t.Rows == MR && t.Cols == 2 * W)
        {
            var alpha = new Vector<float>(t.Alpha);
            StorePortable(t.C, c00, c01, alpha, t);
            StorePortable(t.C + t.Ldc, c10, c11, alpha, t);
            StorePortable(t.C + 2 * t.Ldc, c20, c21, alpha, t);
            StorePortable(t.C + 3 * t.Ldc, c30, c31, alpha, t);
            StorePortable(t.C + 4 * t.Ldc, c40, c41, alpha, t);
            StorePortable(t.C + 5 * t.Ldc, c50, c51, alpha, t);
            return;
        }
        float* tile = stackalloc float[MR * 2 * W];
        var s = new Vector<float>(t.Alpha);
        (c00 * s).Store(tile); (c01 * s).Store(tile + 1 * W);
        (c10 * s).Store(tile + 2 * W); (c11 * s).Store(tile + 3 * W);
        (c20 * s).Store(tile + 4 * W); (c21 * s).Store(tile + 5 * W);
        (c30 * s).Store(tile + 6 * W); (c31 * s).Store(tile + 7 * W);
        (c40 * s).Store(tile + 8 * W); (c41 * s).Store(tile + 9 * W);
        (c50 * s).Store(tile + 10 * W); (c51 * s).Store(tile + 11 * W);
        StorePartial(tile, 2 * W, t);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePortable(float* c, Vector<float> v0, Vector<float> v1, Vector<float> alpha, in MicroTile t)
    {
        v0 *= alpha;
        v1 *= alpha;
        if (t.Bias != null) { v0 += Vector.Load(t.Bias); v1 += Vector.Load(t.Bias + Vector<float>.Count); }
        if (t.Accumulate) { v0 += Vector.Load(c); v1 += Vector.Load(c + Vector<float>.Count); }
        v0.Store(c);
        v1.Store(c + Vector<float>.Count);
    }
}
