namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Runs one <see cref="GemmProblem"/>: picks the algorithm for its shape and strides and, when it is large enough,
/// splits it over all cores.
/// </summary>
internal static unsafe class GemmDriver
{
    /// <summary>Below this many multiply-adds (~2M, tens of microseconds) thread hand-off costs more than it saves.</summary>
    public const long ParallelThreshold = 1L << 21;

    /// <summary>Up to this many rows (decode steps) A is not packed: it is read in place.</summary>
    public const int SmallM = 8;

    /// <summary>Up to this many columns a padded register tile would mostly compute zeros; dot products win.</summary>
    public const int SmallN = 4;

    public static void Run(in GemmProblem p, bool allowParallel = true) => Run(p, allowParallel, GemmKernel.Best);

    public static void Run(in GemmProblem p, bool allowParallel, GemmIsa isa)
    {
        if (p.M == 0 || p.N == 0) return;
        if (p.K == 0)
        {
            FillWithBias(p);
            return;
        }
        var path = ChoosePath(p);
        int threads = allowParallel && p.MultiplyAdds >= ParallelThreshold ? Environment.ProcessorCount : 1;
        // Split the larger output dimension; the packed operand along the other one is then packed by every thread,
        // so this also keeps that duplicated packing the smaller of the two.
        bool alongN = path == GemmPath.StreamB || p.N >= p.M;
        int align = alongN ? GemmKernel.NR(isa) : GemmKernel.MR;
        int extent = alongN ? p.N : p.M;
        int chunks = Math.Min(threads, (extent + align - 1) / align);
        if (chunks <= 1)
        {
            RunSerial(p, path, isa);
            return;
        }
        int per = ((extent + chunks - 1) / chunks + align - 1) / align * align;
        chunks = (extent + per - 1) / per;
        var whole = p;
        Parallel.For(0, chunks, c =>
        {
            int start = c * per, count = Math.Min(per, extent - start);
            RunSerial(alongN ? whole.Columns(start, count) : whole.Rows(start, count), path, isa);
        });
    }

    private enum GemmPath { Packed, StreamB, Dot }

    private static GemmPath ChoosePath(in GemmProblem p)
    {
        if (p.M <= SmallM && p.B.ColStride == 1 && p.N > SmallN) return GemmPath.StreamB;
        if (p.M <= SmallM || p.N <= SmallN) return GemmPath.Dot;
        return GemmPath.Packed;
    }

    private static void RunSerial(in GemmProblem p, GemmPath path, GemmIsa isa)
    {
        switch (path)
        {
            case GemmPath.StreamB: GemmPaths.StreamB(p, isa); break;
            case GemmPath.Dot: GemmPaths.Dot(p); break;
            default: GemmPaths.Packed(p, isa); break;
        }
    }

    private static void FillWithBias(in GemmProblem p)
    {
        for (int i = 0; i < p.M; i++)
        {
            var row = new Span<float>(p.C + i * p.Ldc, p.N);
            if (p.Bias == null) row.Clear(); else new ReadOnlySpan<float>(p.Bias, p.N).CopyTo(row);
        }
    }
}
