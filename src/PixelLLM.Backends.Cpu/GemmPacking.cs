namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Copies blocks of A and B into the contiguous, zero-padded panel layouts the micro-kernel streams through,
/// from any strides (so transposed operands cost nothing extra beyond the copy).
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs rows [0, mc) × depth [0, kc) of A, element (i, p) at a + i·rs + p·ks, into MR-row panels:
    /// panel r is dst[r·MR·kc ..], p-major (dst[r·MR·kc + p·MR + i]); rows past mc are zero.
    /// </summary>
    public static void PackA(float* a, nint rs, nint ks, int mc, int kc, float* dst)
    {
        const int mr = GemmKernel.MR;
        for (int i0 = 0; i0 < mc; i0 += mr, dst += mr * kc)
        {
            int rows = Math.Min(mr, mc - i0);
            float* src = a + i0 * rs;
            if (ks == 1)
            {
                // Row-major A: read each row contiguously, scatter into the panel with stride MR.
                for (int i = 0; i < rows; i++)
                {
                    float* row = src + i * rs;
                    for (int p = 0; p < kc; p++) dst[p * mr + i] = row[p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* col = src + p * ks;
                    for (int i = 0; i < rows; i++) dst[p * mr + i] = col[i * rs];
                }
            }
            if (rows < mr)
                for (int p = 0; p < kc; p++)
                    for (int i = rows; i < mr; i++) dst[p * mr + i] = 0f;
        }
    }

    /// <summary>
    /// Packs depth [0, kc) × columns [0, nc) of B, element (p, j) at b + p·ks + j·cs, into <paramref name="nr"/>-column
    /// panels: panel q is dst[q·nr·kc ..], p-major (dst[q·nr·kc + p·nr + j]); columns past nc are zero.
    /// </summary>
    public static void PackB(float* b, nint ks, nint cs, int kc, int nc, int nr, float* dst)
    {
        for (int j0 = 0; j0 < nc; j0 += nr, dst += nr * kc)
        {
            int cols = Math.Min(nr, nc - j0);
            float* src = b + j0 * cs;
            if (cs == 1)
            {
                for (int p = 0; p < kc; p++)
                    new ReadOnlySpan<float>(src + p * ks, cols).CopyTo(new Span<float>(dst + p * nr, cols));
            }
            else if (ks == 1)
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
}
