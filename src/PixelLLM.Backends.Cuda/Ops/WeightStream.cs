using PixelLLM.Backends.Cuda.Device;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// The weights a run of launches reads, launch by launch, and what each launch asks L2 to fetch for the launches after
/// it (prefetch.cuh): the requested window stays <c>lookahead</c> bytes past the end of the launch about to run, and each
/// launch requests only the part of that window its predecessor did not (the first launch, all of it), so every launch
/// requests about as many bytes as it reads. A launch reads its weights side by side (q, k and v at once; wi0 and wi1
/// column by column), so a window that ends inside a launch covers the same leading fraction of each of them.
/// Built per stack dispatch (once per recorded graph; per step only when graphs are off).
/// </summary>
internal sealed class WeightStream
{
    /// <summary>L2's line: requests are rounded out to whole lines.</summary>
    private const long Line = 128;

    private readonly (ulong Address, long Bytes)[][] steps;
    private readonly long[] starts; // where each launch's weights start in the stream; starts[^1] is its length
    private readonly Dictionary<ulong, int> byFirstWeight = [];
    private readonly long lookahead;

    /// <param name="steps">Each launch's weights, in launch order.</param>
    /// <param name="lookahead">How far past the running launch's weights the requested window reaches, in bytes.</param>
    public WeightStream(IReadOnlyList<(ulong Address, long Bytes)[]> steps, long lookahead)
    {
        this.steps = [.. steps];
        this.lookahead = lookahead;
        starts = new long[steps.Count + 1];
        for (int i = 0; i < steps.Count; i++)
        {
            starts[i + 1] = starts[i] + steps[i].Sum(w => w.Bytes);
            if (steps[i].Length > 0) byFirstWeight.TryAdd(steps[i][0].Address, i);
        }
    }

    /// <summary>Bytes of weights in the stream.</summary>
    public long Bytes => starts[^1];

    /// <summary>
    /// The ranges the launch whose first weight is at <paramref name="firstWeight"/> requests (none for a launch not in
    /// the stream, or past the window's capacity: a window that lags only costs speed).
    /// </summary>
    public PrefetchRanges For(ulong firstWeight)
    {
        if (!byFirstWeight.TryGetValue(firstWeight, out int i)) return default;
        long from = i == 0 ? starts[1] : Math.Max(starts[i + 1], starts[i] + lookahead);
        long to = Math.Min(starts[i + 1] + lookahead, Bytes);
        var ranges = new List<(ulong, long)>();
        for (int j = i + 1; j < steps.Length && starts[j] < to && ranges.Count < PrefetchRanges.Capacity; j++)
        {
            long size = starts[j + 1] - starts[j];
            if (size == 0 || starts[j + 1] <= from) continue;
            long first = Math.Max(0, from - starts[j]), last = Math.Min(size, to - starts[j]);
            foreach (var (address, bytes) in steps[j])
            {
                long lo = Boundary(first, size, bytes), hi = Boundary(last, size, bytes);
                if (hi > lo && ranges.Count < PrefetchRanges.Capacity) ranges.Add((address + (ulong)lo, hi - lo));
            }
        }
        return PrefetchRanges.From(ranges);
    }

    /// <summary>
    /// Where position <paramref name="at"/> of a launch's <paramref name="size"/> bytes falls in one of its weights of
    /// <paramref name="bytes"/>: the same fraction, down to a whole line (the end stays the end). Consecutive windows
    /// meet at the same position, so they meet at the same line: no line is requested twice, none skipped.
    /// </summary>
    private static long Boundary(long at, long size, long bytes) => at >= size ? bytes : at * bytes / size / Line * Line;
}
