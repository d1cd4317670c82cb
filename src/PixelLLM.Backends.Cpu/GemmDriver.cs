namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Runs one <see cref="GemmProblem"/>: picks the algorithm for its shape and strides and, when it is large enough,
/// splits it over all cores.
/// </summary>
internal static unsafe class GemmDriver
{
    /// <summary>Below this many multiply-adds (~2M, tens of microseconds) thread hand-off costs more than it saves.</summary>
    public const long ParallelThreshold = 1L << 21;

    /// <summary>
    /// Up to this many rows (decode steps; rows of one item, <see cref="GemmProblem.ItemRows"/>) a K-contiguous B is used
    /// by dot products; up to this many rows in all, the packed path reads A in place.
    /// </summary>
    public const int SmallM = 8;

    /// <summary>Up to this many columns a padded register tile would mostly compute zeros; dot products win.</summary>
    public const int SmallN = 4;

    private const int DotBlocksPerThread = 4;

    public static void Run(in GemmProblem p, bool allowParallel = true) => Run(p, allowParallel, GemmKernel.Best);

    public static void Run(in GemmProblem p, bool allowParallel, GemmIsa isa)
    {
        if (p.M == 0 || p.N == 0) return;
        if (p.K == 0)
        {
            FillWithBias(p);
            return;
        }
        if (p.Float64)
        {
            GemmFloat64.Run(p, allowParallel);
            return;
        }
        var path = ChoosePath(p);
        int threads = allowParallel && p.MultiplyAdds >= ParallelThreshold ? Environment.ProcessorCount : 1;
        // Dot products pack nothing, so finer blocks cost nothing and let a thread that got more CPU time do more.
        var grid = path == GemmPath.Dot
            ? ThreadGrid.For(p.M, p.N, threads * DotBlocksPerThread, 2, 4)
            : ThreadGrid.For(p.M, p.N, threads, GemmKernel.MR, GemmKernel.NR(isa));
        if (grid.Count <= 1)
        {
            RunSerial(p, path, isa);
            return;
        }
        var whole = p;
        Parallel.For(0, grid.Count, c =>
        {
            var (rowStart, rowCount, colStart, colCount) = grid.Block(c);
            RunSerial(whole.Rows(rowStart, rowCount).Columns(colStart, colCount), path, isa);
        });
    }

    private enum GemmPath { Packed, Dot }

    private static GemmPath ChoosePath(in GemmProblem p)
    {
        bool kContiguousB = p.B.RowStride == 1 || p.K == 1;
        int itemRows = p.ItemRows > 0 ? p.ItemRows : p.M;
        return (itemRows <= SmallM && kContiguousB) || p.N <= SmallN ? GemmPath.Dot : GemmPath.Packed;
    }

    private static void RunSerial(in GemmProblem p, GemmPath path, GemmIsa isa)
    {
        switch (path)
        {
            case GemmPath.Dot: GemmPaths.Dot(p, isa); break;
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

/// <summary>
/// A split of C into RowParts × ColParts blocks, one per thread. Each thread packs the A rows and B columns of its
/// block, so the split minimises rows + columns per block (the duplicated packing), with blocks aligned to register tiles.
/// </summary>
internal readonly record struct ThreadGrid(int RowsPer, int ColsPer, int RowParts, int ColParts, int M, int N)
{
    public int Count => RowParts * ColParts;

    public static ThreadGrid For(int m, int n, int threads, int rowAlign, int colAlign)
    {
        var best = new ThreadGrid(m, n, 1, 1, m, n);
        double bestCost = double.MaxValue;
        for (int rowParts = 1; rowParts <= threads; rowParts++)
        {
            if (threads % rowParts != 0) continue;
            var g = Make(m, n, rowParts, threads / rowParts, rowAlign, colAlign);
            // Fewer blocks than threads leaves cores idle; among full grids prefer the least packing per block.
            double cost = (double)g.RowsPer + g.ColsPer + (g.Count < threads ? 1e9 * (threads - g.Count) : 0);
            if (cost < bestCost) (best, bestCost) = (g, cost);
        }
        return best;
    }

    private static ThreadGrid Make(int m, int n, int rowParts, int colParts, int rowAlign, int colAlign)
    {
        int rowsPer = Per(m, rowParts, rowAlign), colsPer = Per(n, colParts, colAlign);
        return new ThreadGrid(rowsPer, colsPer, (m + rowsPer - 1) / rowsPer, (n + colsPer - 1) / colsPer, m, n);
    }

    private static int Per(int extent, int parts, int align) => ((extent + parts - 1) / parts + align - 1) / align * align;

    public (int RowStart, int RowCount, int ColStart, int ColCount) Block(int index)
    {
        int r = index / ColParts, c = index % ColParts;
        int rowStart = r * RowsPer, colStart = c * ColsPer;
        return (rowStart, Math.Min(RowsPer, M - rowStart), colStart, Math.Min(ColsPer, N - colStart));
    }
}
