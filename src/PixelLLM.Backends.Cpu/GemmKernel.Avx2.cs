using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class GemmKernel
{
    /// <summary>6×16 products in twelve ymm accumulators (row-major into <paramref name="tile"/>, 16 floats a row); each step loads two B vectors and broadcasts six A values.</summary>
    /// <remarks>
    /// The loop is a method of its own that takes only pointers and counts and writes its twelve accumulators once, at
    /// the end: where the caller's epilogue shared the method, code compiled without a run-time profile (NativeAOT, or the
    /// JIT with QuickJit off) kept the accumulators on the stack, storing and reloading all twelve every step (3–5× slower).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx2FmaProducts(float* a, nint rs, nint ks, float* b, nint bs, int k, int rows, float* tile)
    {
        const int W = 8; // floats per register
        int last = rows - 1; // rows past the end re-read the last valid row; their results are discarded
        float* a0 = a, a1 = a + Math.Min(1, last) * rs, a2 = a + Math.Min(2, last) * rs;
        float* a3 = a + Math.Min(3, last) * rs, a4 = a + Math.Min(4, last) * rs, a5 = a + Math.Min(5, last) * rs;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint o = 0;
        for (int p = 0; p < k; p++, o += ks, b += bs)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + W);
            var av = Vector256.Create(a0[o]);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Vector256.Create(a1[o]);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Vector256.Create(a2[o]);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Vector256.Create(a3[o]);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Vector256.Create(a4[o]);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Vector256.Create(a5[o]);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
        }
        c00.Store(tile); c01.Store(tile + W); c10.Store(tile + 2 * W); c11.Store(tile + 3 * W);
        c20.Store(tile + 4 * W); c21.Store(tile + 5 * W); c30.Store(tile + 6 * W); c31.Store(tile + 7 * W);
        c40.Store(tile + 8 * W); c41.Store(tile + 9 * W); c50.Store(tile + 10 * W); c51.Store(tile + 11 * W);
    }
}
