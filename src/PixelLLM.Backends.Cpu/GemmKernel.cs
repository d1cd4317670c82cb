using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.Intrinsics.X86;

namespace PixelLLM.Backends.Cpu;

/// <summary>Which SIMD micro-kernel a GEMM runs; <see cref="GemmKernel.Best"/> picks the widest the CPU has.</summary>
internal enum GemmIsa
{
    /// <summary><see cref="Vector{T}"/> with multiply-add; runs anywhere.</summary>
    Portable,
    /// <summary>Vector256 with FMA3.</summary>
    Avx2,
    /// <summary>Vector512 with AVX-512F.</summary>
    Avx512,
}

/// <summary>
/// One micro-kernel call: C[i, j] (= or +=) Alpha · Σₚ A[i, p] · B[p, j] (+ Bias[j]) for i &lt; Rows, j &lt; Cols.
/// A[i, p] is at A + i·ARowStride + p·AKStride (a packed block or, for a few rows, the caller's matrix); rows past Rows
/// are never read. B[p, j] is at B + p·BKStride + j, a packed panel readable for the full NR columns. Bias is only used
/// when not accumulating and may be null.
/// </summary>
internal unsafe struct MicroTile
{
    public float* A;
    public nint ARowStride;
    public nint AKStride;
    public float* B;
    public nint BKStride;
    public float* C;
    public nint Ldc;
    public float* Bias;
    public int K;
    public int Rows;
    public int Cols;
    public float Alpha;
    public bool Accumulate;
}

/// <summary>
/// Register-blocked micro-kernels (<see cref="MR"/> rows × two SIMD registers of columns, kept in registers over K)
/// and the cache-blocking sizes that go with each.
/// </summary>
internal static unsafe partial class GemmKernel
{
    /// <summary>Rows of C per micro-kernel call: 6 rows × 2 registers = 12 accumulators, enough to hide FMA latency.</summary>
    public const int MR = 6;

    public static GemmIsa Best { get; } =
        Avx512F.IsSupported ? GemmIsa.Avx512 : Avx2.IsSupported && Fma.IsSupported ? GemmIsa.Avx2 : GemmIsa.Portable;

    public static bool IsSupported(GemmIsa isa) => isa switch
    {
        GemmIsa.Avx512 => Avx512F.IsSupported,
        GemmIsa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        _ => true,
    };

    /// <summary>Columns of C per micro-kernel call (two registers wide).</summary>
    public static int NR(GemmIsa isa) => isa switch
    {
        GemmIsa.Avx512 => 32,
        GemmIsa.Avx2 => 16,
        _ => 2 * Vector<float>.Count,
    };

    /// <summary>
    /// Depth of one packed block: a KC×NR panel of B (24 KiB / 16 KiB) should stay in L1 (32–48 KiB) while
    /// A panels stream past it from L2.
    /// </summary>
    public static int KC(GemmIsa isa) => isa == GemmIsa.Avx512 ? 192 : 256;

    /// <summary>Rows of A packed at once (MC×KC floats stay in L2).</summary>
    public const int MC = 144;

    /// <summary>Columns of B packed at once (KC×NC floats stay in L3).</summary>
    public const int NC = 2048;

    /// <summary>Widest tile row any kernel writes: two 16-float registers.</summary>
    private const int MaxNR = 32;

    [SkipLocalsInit]
    public static void Run(GemmIsa isa, in MicroTile t)
    {
        float* tile = stackalloc float[MR * MaxNR];
        int nr = NR(isa);
        switch (isa)
        {
            case GemmIsa.Avx512: Avx512Products(t.A, t.ARowStride, t.AKStride, t.B, t.BKStride, t.K, t.Rows, tile); break;
            case GemmIsa.Avx2: Avx2FmaProducts(t.A, t.ARowStride, t.AKStride, t.B, t.BKStride, t.K, t.Rows, tile); break;
            default: PortableProducts(t.A, t.ARowStride, t.AKStride, t.B, t.BKStride, t.K, t.Rows, tile); break;
        }
        if (t.Rows == MR && t.Cols == nr) StoreFull(tile, nr, t);
        else
        {
            for (int i = 0; i < MR * nr; i++) tile[i] *= t.Alpha;
            StorePartial(tile, nr, t);
        }
    }

    /// <summary>C (= or +=) alpha · tile + bias for a whole MR × nr tile, in that order of operations (nr is two of a kernel's registers, a whole number of Vector{T}s).</summary>
    private static void StoreFull(float* tile, int nr, in MicroTile t)
    {
        int w = Vector<float>.Count;
        var alpha = new Vector<float>(t.Alpha);
        for (int i = 0; i < MR; i++)
        {
            float* c = t.C + i * t.Ldc;
            for (int j = 0; j < nr; j += w)
            {
                var v = Vector.Load(tile + i * nr + j) * alpha;
                if (t.Bias != null) v += Vector.Load(t.Bias + j);
                if (t.Accumulate) v += Vector.Load(c + j);
                v.Store(c + j);
            }
        }
    }

    /// <summary>Writes a computed tile (already scaled by alpha, row stride <paramref name="nr"/>) into the valid part of C.</summary>
    private static void StorePartial(float* tile, int nr, in MicroTile t)
    {
        for (int i = 0; i < t.Rows; i++)
        {
            float* c = t.C + i * t.Ldc;
            float* src = tile + i * nr;
            for (int j = 0; j < t.Cols; j++)
            {
                float v = src[j];
                if (t.Bias != null) v += t.Bias[j];
                if (t.Accumulate) v += c[j];
                c[j] = v;
            }
        }
    }
}
