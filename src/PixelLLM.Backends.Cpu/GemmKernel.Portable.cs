using System.Runtime.CompilerServices;
using System.Numerics;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class GemmKernel
{
    /// <summary>The same 6 × 2-register products on <see cref="Vector{T}"/>, for CPUs without AVX (e.g. Arm NEON).</summary>
    /// <remarks>
    /// The loop is a method of its own that takes only pointers and counts and writes its twelve accumulators once, at
    /// the end: where the caller's epilogue shared the method, code compiled without a run-time profile (NativeAOT, or the
    /// JIT with QuickJit off) kept the accumulators on the stack, storing and reloading all twelve every step (3–5× slower).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PortableProducts(float* a, nint rs, nint ks, float* b, nint bs, int k, int rows, float* tile)
    {
        int W = Vector<float>.Count; // floats per register
        int last = rows - 1; // rows past the end re-read the last valid row; their results are discarded
        float* a0 = a, a1 = a + Math.Min(1, last) * rs, a2 = a + Math.Min(2, last) * rs;
        float* a3 = a + Math.Min(3, last) * rs, a4 = a + Math.Min(4, last) * rs, a5 = a + Math.Min(5, last) * rs;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint o = 0;
        for (int p = 0; p < k; p++, o += ks, b += bs)
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
        c00.Store(tile); c01.Store(tile + W); c10.Store(tile + 2 * W); c11.Store(tile + 3 * W);
        c20.Store(tile + 4 * W); c21.Store(tile + 5 * W); c30.Store(tile + 6 * W); c31.Store(tile + 7 * W);
        c40.Store(tile + 8 * W); c41.Store(tile + 9 * W); c50.Store(tile + 10 * W); c51.Store(tile + 11 * W);
    }
}
