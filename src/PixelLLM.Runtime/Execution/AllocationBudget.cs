using System.Globalization;

namespace PixelLLM.Runtime.Execution;

/// <summary>
/// A byte budget a backend draws its allocations (graph arenas, state buffers) from. <see cref="Reserve"/> fails with
/// <see cref="OutOfBackendMemoryException"/> instead of letting the allocation through; every reservation is given back
/// with <see cref="Release"/> when its buffer is freed. Thread-safe. A limit of 0 means unlimited (only the count is kept).
/// </summary>
public sealed class AllocationBudget
{
    private long used;

    /// <summary>A budget of <paramref name="limitBytes"/> bytes (0 = unlimited); <paramref name="owner"/> names it in errors.</summary>
    public AllocationBudget(long limitBytes, string owner)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limitBytes);
        LimitBytes = limitBytes;
        Owner = owner;
    }

    /// <summary>The limit in bytes; 0 = unlimited.</summary>
    public long LimitBytes { get; }

    /// <summary>What the budget bounds, for messages (e.g. "cpu backend working memory").</summary>
    public string Owner { get; }

    /// <summary>Bytes currently reserved.</summary>
    public long UsedBytes => Interlocked.Read(ref used);

    /// <summary>Reserves <paramref name="bytes"/> or throws <see cref="OutOfBackendMemoryException"/> naming the limit.</summary>
    public void Reserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        while (true)
        {
            long before = Interlocked.Read(ref used);
            long after = before + bytes;
            if (LimitBytes > 0 && (after > LimitBytes || after < before))
                throw new OutOfBackendMemoryException(string.Create(CultureInfo.InvariantCulture,
                    $"out of memory: {Owner} cannot allocate {Bytes(bytes)} ({Bytes(before)} of its {Bytes(LimitBytes)} limit in use)"));
            if (Interlocked.CompareExchange(ref used, after, before) == before) return;
        }
    }

    /// <summary>Gives back a reservation made with <see cref="Reserve"/>.</summary>
    public void Release(long bytes) => Interlocked.Add(ref used, -bytes);

    /// <summary>"1.5 GiB", "12.0 MiB", "300 B": sizes in messages.</summary>
    public static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.0} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.0} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };
}
