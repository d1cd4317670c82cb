using System.Runtime.Intrinsics;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Copies blocks of A and B into the contiguous panel layouts the micro-kernel streams through,
/// from any strides (so transposed operands cost nothing extra beyond the copy).
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Copies rows [0, mc) × depth [0, kc) of A, element (i, p) at a + i·rs + p·ks, into a contiguous block and returns
    /// the block's (row stride, depth stride); row i starts at dst + i·kc in both layouts, as the kernel's A offsets expect
    /// (MR-row panels are kc·MR apart). A row-major A is copied row by row (long contiguous copies); any other A goes into
    /// depth-major MR-row panels (dst[r·MR·kc + p·MR + i]) so its reads are as contiguous as its strides allow.
    /// The micro-kernel never reads rows past mc, so ragged panels need no zero padding.
    /// </summary>
    public static (nint RowStride, nint DepthStride) PackA(float* a, nint rs, nint ks, int mc, int kc, float* dst)
    {
        const int mr = GemmKernel.MR;
        if (ks == 1)
        {
            for (int i = 0; i < mc; i++)
                new ReadOnlySpan<float>(a + i * rs, kc).CopyTo(new Span<float>(dst + (nint)i * kc, kc));
            return (kc, 1);
        }
        for (int i0 = 0; i0 < mc; i0 += mr, dst += mr * kc)
        {
            int rows = Math.Min(mr, mc - i0);
            float* src = a + i0 * rs;
            for (int p = 0; p < kc; p++)
            {
                float* column = src + p * ks;
                for (int i = 0; i < rows; i++) dst[p * mr + i] = column[i * rs];
            }
        }
        return (1, mr);
    }

    /// <summary>
    /// Packs depth [0, kc) × columns [0, nc) of B, element (p, j) at b + p·ks + j·cs, into <paramref name="nr"/>-column
    /// panels: panel q is dst[q·nr·kc ..], p-major (dst[q·nr·kc + p·nr + j]); columns past nc are zero.
    /// </summary>
    public static void PackB(float* b, nint ks, nint cs, int kc, int nc, int nr, float* dst)
    {
        if (cs == 1)
        {
            PackRowMajorB(b, ks, kc, nc, nr, dst);
            return;
        }
        for (int j0 = 0; j0 < nc; j0 += nr, dst += nr * kc)
        {
            int cols = Math.Min(nr, nc - j0);
            float* src = b + j0 * cs;
            if (ks == 1)
            {
                // B is a transposed (N, K) matrix such as a PyTorch Linear weight: each column is contiguous.
                GemmTranspose.Columns(src, cs, kc, cols, nr, dst);
            }
            else
            {
                for (int p = 0; p < kc; p++)
                    for (int j = 0; j < cols; j++) dst[p * nr + j] = src[p * ks + j * cs];
            }
            if (cols < nr)
                for (int p = 0; p < kc; p++)
                    new Span<float>(dst + p * nr + cols, nr - cols).Clear();
        }
    }

    /// <summary>Row-major B: walk it row by row (long contiguous reads), dealing each row out to the panels.</summary>
    private static void PackRowMajorB(float* b, nint ks, int kc, int nc, int nr, float* dst)
    {
        int full = nc / nr, rest = nc - full * nr;
        nint panel = (nint)nr * kc;
        for (int p = 0; p < kc; p++)
        {
            float* row = b + p * ks;
            float* to = dst + p * nr;
            for (int q = 0; q < full; q++, row += nr, to += panel)
                for (int j = 0; j < nr; j += 4) Vector128.Store(Vector128.Load(row + j), to + j); // NR is a multiple of 4
            if (rest > 0)
            {
                new ReadOnlySpan<float>(row, rest).CopyTo(new Span<float>(to, rest));
                new Span<float>(to + rest, nr - rest).Clear();
            }
        }
    }
}
