using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace PixelLLM.Backends.Cpu;

/// <summary>Transposing copies used when packing a K-contiguous B (e.g. a Linear weight) into row panels.</summary>
internal static unsafe class GemmTranspose
{
    /// <summary>dst[p·dstStride + j] = src[j·srcStride + p] for j &lt; cols, p &lt; depth.</summary>
    public static void Columns(float* src, nint srcStride, int depth, int cols, int dstStride, float* dst)
    {
        int j = 0;
        if (Avx.IsSupported)
        {
            for (; j + 8 <= cols; j += 8)
            {
                int p = 0;
                for (; p + 8 <= depth; p += 8) Block8x8(src + j * srcStride + p, srcStride, dst + p * dstStride + j, dstStride);
                for (; p < depth; p++)
                    for (int jj = j; jj < j + 8; jj++) dst[p * dstStride + jj] = src[jj * srcStride + p];
            }
        }
        for (; j < cols; j++)
        {
            float* column = src + j * srcStride;
            for (int p = 0; p < depth; p++) dst[p * dstStride + j] = column[p];
        }
    }

    /// <summary>Transposes one 8×8 block in registers: unpack pairs, shuffle quads, swap 128-bit halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block8x8(float* src, nint srcStride, float* dst, nint dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + 2 * srcStride);
        var r3 = Avx.LoadVector256(src + 3 * srcStride);
        var r4 = Avx.LoadVector256(src + 4 * srcStride);
        var r5 = Avx.LoadVector256(src + 5 * srcStride);
        var r6 = Avx.LoadVector256(src + 6 * srcStride);
        var r7 = Avx.LoadVector256(src + 7 * srcStride);

        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);

        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);

        Avx.Store(dst, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(s3, s7, 0x31));
    }
}
