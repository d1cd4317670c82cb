using System.Numerics.Tensors;

namespace PixelLLM.Backends.Cpu;

/// <summary>The single-threaded GEMM algorithms; <see cref="GemmDriver"/> picks one and splits work between threads.</summary>
internal static unsafe class GemmPaths
{
    /// <summary>
    /// The general case (Goto/BLIS loop order): per NC×KC block of B, pack it into NR-column panels; per MC×KC block of A,
    /// pack it into MR-row panels; then sweep micro-kernels so each B panel stays in L1 while A panels stream from L2.
    /// K is split into KC blocks: the first overwrites C (adding the bias), later ones accumulate.
    /// </summary>
    public static void Packed(in GemmProblem p, GemmIsa isa)
    {
        const int mr = GemmKernel.MR;
        int nr = GemmKernel.NR(isa), kcMax = GemmKernel.KC(isa);
        int ncMax = Math.Min(RoundUp(GemmKernel.NC, nr), RoundUp(p.N, nr));
        int mcMax = Math.Min(GemmKernel.MC, RoundUp(p.M, mr));
        int kcFirst = Math.Min(kcMax, p.K);
        float* bPack = GemmScratch.Get(ScratchSlot.PackB, (long)kcFirst * ncMax);
        float* aPack = GemmScratch.Get(ScratchSlot.PackA, (long)kcFirst * mcMax);
        var t = new MicroTile { Alpha = p.Alpha, Ldc = p.Ldc, ARowStride = 1, AKStride = mr, BKStride = nr };

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
                    GemmPacking.PackA(aBlock.Ptr, aBlock.RowStride, aBlock.ColStride, mc, kc, aPack);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        t.B = bPack + jr * kc;
                        t.Cols = Math.Min(nr, nc - jr);
                        t.Bias = pc == 0 && p.Bias != null ? p.Bias + jc + jr : null;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            t.A = aPack + ir * kc;
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
    /// Few rows and a row-major B: nothing is packed. The micro-kernel reads A in place and streams B's rows directly
    /// (over the whole K, each B element is loaded once per MR rows); only a ragged last column strip is copied.
    /// </summary>
    public static void StreamB(in GemmProblem p, GemmIsa isa)
    {
        const int mr = GemmKernel.MR;
        int nr = GemmKernel.NR(isa);
        var t = new MicroTile { Alpha = p.Alpha, Ldc = p.Ldc, K = p.K, ARowStride = p.A.RowStride, AKStride = p.A.ColStride };
        for (int j0 = 0; j0 < p.N; j0 += nr)
        {
            t.Cols = Math.Min(nr, p.N - j0);
            if (t.Cols == nr)
            {
                t.B = p.B.Ptr + j0;
                t.BKStride = p.B.RowStride;
            }
            else
            {
                // A full-width load would run past the end of B's rows: copy the strip into a zero-padded panel.
                t.B = GemmScratch.Get(ScratchSlot.PackB, (long)p.K * nr);
                t.BKStride = nr;
                GemmPacking.PackB(p.B.Ptr + j0, p.B.RowStride, 1, p.K, t.Cols, nr, t.B);
            }
            t.Bias = p.Bias == null ? null : p.Bias + j0;
            for (int i0 = 0; i0 < p.M; i0 += mr)
            {
                t.A = p.A.Ptr + i0 * p.A.RowStride;
                t.Rows = Math.Min(mr, p.M - i0);
                t.C = p.C + i0 * p.Ldc + j0;
                GemmKernel.Run(isa, t);
            }
        }
    }

    /// <summary>
    /// Few rows or few columns with K-contiguous data (e.g. a decode step through a Linear weight): every output is one
    /// vectorised dot product. Column-outer order keeps the few A rows in L1 while each B column streams once.
    /// Operands that are not K-contiguous are first copied in blocks of <see cref="DotBlock"/> rows/columns.
    /// </summary>
    public static void Dot(in GemmProblem p)
    {
        for (int i0 = 0; i0 < p.M; i0 += DotBlock)
        {
            int rows = Math.Min(DotBlock, p.M - i0);
            var a = KContiguous(p.A.Offset(i0, 0), rows, p.K, transposed: false, ScratchSlot.GemvRows);
            for (int j0 = 0; j0 < p.N; j0 += DotBlock)
            {
                int cols = Math.Min(DotBlock, p.N - j0);
                var b = KContiguous(p.B.Offset(0, j0), cols, p.K, transposed: true, ScratchSlot.GemvColumns);
                for (int j = 0; j < cols; j++)
                {
                    var column = new ReadOnlySpan<float>(b.Ptr + j * b.RowStride, p.K);
                    float bias = p.Bias == null ? 0f : p.Bias[j0 + j];
                    for (int i = 0; i < rows; i++)
                    {
                        var row = new ReadOnlySpan<float>(a.Ptr + i * a.RowStride, p.K);
                        p.C[(i0 + i) * p.Ldc + j0 + j] = p.Alpha * TensorPrimitives.Dot(row, column) + bias;
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
