namespace PixelLLM.Backends.Cpu;

/// <summary>The single-threaded GEMM algorithms; <see cref="GemmDriver"/> picks one and splits work between threads.</summary>
internal static unsafe class GemmPaths
{
    /// <summary>
    /// The general case (Goto/BLIS loop order): per NC×KC block of B, pack it into NR-column panels; per MC×KC block of A,
    /// pack it into MR-row panels; then sweep micro-kernels so each B panel stays in L1 while A panels stream from L2.
    /// K is split into KC blocks: the first overwrites C (adding the bias), later ones accumulate.
    /// With at most <see cref="GemmDriver.SmallM"/> rows (decode steps) A is read in place: packing it would cost as much
    /// as using it, while B is still packed, since that reads it row-contiguously instead of one narrow strip at a time.
    /// </summary>
    public static void Packed(in GemmProblem p, GemmIsa isa)
    {
        const int mr = GemmKernel.MR;
        int nr = GemmKernel.NR(isa), kcMax = GemmKernel.KC(isa);
        int ncMax = Math.Min(RoundUp(GemmKernel.NC, nr), RoundUp(p.N, nr));
        int mcMax = Math.Min(GemmKernel.MC, RoundUp(p.M, mr));
        int kcFirst = Math.Min(kcMax, p.K);
        float* bPack = GemmScratch.Get(ScratchSlot.PackB, (long)kcFirst * ncMax);
        bool packA = p.M > GemmDriver.SmallM;
        float* aPack = packA ? GemmScratch.Get(ScratchSlot.PackA, (long)kcFirst * mcMax) : null;
        var t = new MicroTile { Alpha = p.Alpha, Ldc = p.Ldc, BKStride = nr, ARowStride = p.A.RowStride, AKStride = p.A.ColStride };

        for (int jc = 0; jc < p.N; jc += ncMax)
        {
            int nc = Math.Min(ncMax, p.N - jc);
            for (int pc = 0; pc < p.K; pc += kcMax)
            {
                int kc = Math.Min(kcMax, p.K - pc);
                var bBlock = p.B.Offset(pc, jc);
                GemmPacking.PackB(bBlock.Ptr, bBlock.RowStride, bBlock.ColStride, kc, nc, nr, bPack);
                t.K = kc;
                t.Accumulate = pc > 0;
                for (int ic = 0; ic < p.M; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, p.M - ic);
                    var aBlock = p.A.Offset(ic, pc);
                    if (packA) (t.ARowStride, t.AKStride) = GemmPacking.PackA(aBlock.Ptr, aBlock.RowStride, aBlock.ColStride, mc, kc, aPack);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        t.B = bPack + jr * kc;
                        t.Cols = Math.Min(nr, nc - jr);
                        t.Bias = pc == 0 && p.Bias != null ? p.Bias + jc + jr : null;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            t.A = packA ? aPack + ir * kc : aBlock.Ptr + ir * aBlock.RowStride;
                            t.Rows = Math.Min(mr, mc - ir);
                            t.C = p.C + (ic + ir) * p.Ldc + jc + jr;
                            GemmKernel.Run(isa, t);
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Few rows with K-contiguous B columns (a decode step through a Linear weight), or few columns: outputs are dot
    /// products, computed 2 rows × 4 columns at a time. Column-outer order keeps the few A rows in cache while each
    /// B column streams from memory once. Operands that are not K-contiguous are first copied, <see cref="DotBlock"/>
    /// rows or columns at a time.
    /// </summary>
    public static void Dot(in GemmProblem p, GemmIsa isa)
    {
        float* tile = stackalloc float[8];
        for (int i0 = 0; i0 < p.M; i0 += DotBlock)
        {
            int rows = Math.Min(DotBlock, p.M - i0);
            var a = KContiguous(p.A.Offset(i0, 0), rows, p.K, transposed: false, ScratchSlot.GemvRows);
            for (int j0 = 0; j0 < p.N; j0 += DotBlock)
            {
                int cols = Math.Min(DotBlock, p.N - j0);
                var b = KContiguous(p.B.Offset(0, j0), cols, p.K, transposed: true, ScratchSlot.GemvColumns);
                float* Column(int j) => b.Ptr + Math.Min(j, cols - 1) * b.RowStride;
                for (int j = 0; j < cols; j += 4)
                    for (int i = 0; i < rows; i += 2)
                    {
                        float* row = a.Ptr + i * a.RowStride;
                        float* next = i + 1 < rows ? row + a.RowStride : row;
                        GemvKernel.Tile(isa, row, next, Column(j), Column(j + 1), Column(j + 2), Column(j + 3), p.K, tile);
                        for (int r = 0; r < Math.Min(2, rows - i); r++)
                            for (int c = 0; c < Math.Min(4, cols - j); c++)
                            {
                                int col = j0 + j + c;
                                p.C[(i0 + i + r) * p.Ldc + col] = p.Alpha * tile[r * 4 + c] + (p.Bias == null ? 0f : p.Bias[col]);
                            }
                    }
            }
        }
    }

    private const int DotBlock = 64;

    /// <summary>
    /// <paramref name="count"/> vectors of length <paramref name="k"/> (A's rows, or B's columns when
    /// <paramref name="transposed"/>) as rows with unit stride: the view itself when already so, else a copy.
    /// </summary>
    private static MatrixView KContiguous(MatrixView m, int count, int k, bool transposed, ScratchSlot slot)
    {
        nint vectorStride = transposed ? m.ColStride : m.RowStride, elementStride = transposed ? m.RowStride : m.ColStride;
        if (elementStride == 1 || k == 1) return MatrixView.RowMajor(m.Ptr, vectorStride);
        float* copy = GemmScratch.Get(slot, (long)count * k);
        for (int v = 0; v < count; v++)
            for (int e = 0; e < k; e++) copy[v * k + e] = m.Ptr[v * vectorStride + e * elementStride];
        return MatrixView.RowMajor(copy, k);
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
