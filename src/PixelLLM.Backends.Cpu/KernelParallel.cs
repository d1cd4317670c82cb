namespace PixelLLM.Backends.Cpu;

/// <summary>A piece of kernel work over a range of indices [start, end); a struct so the serial path allocates nothing.</summary>
internal interface IRangeBody
{
    void Run(long start, long end);
}

/// <summary>Splits index ranges over the cores when the work is large enough to repay the hand-off.</summary>
internal static class KernelParallel
{
    /// <summary>
    /// Runs <paramref name="body"/> over [0, <paramref name="count"/>) in contiguous ranges of at least
    /// <paramref name="grain"/> indices, in parallel when there is more than one such range.
    /// </summary>
    public static void For<TBody>(long count, long grain, TBody body) where TBody : struct, IRangeBody
    {
        if (count <= 0) return;
        long chunks = Math.Min(Environment.ProcessorCount * 4L, count / Math.Max(grain, 1));
        if (chunks <= 1 || Environment.ProcessorCount == 1)
        {
            body.Run(0, count);
            return;
        }
        Parallel.For(0, chunks, c => body.Run(c * count / chunks, (c + 1) * count / chunks));
    }
}
