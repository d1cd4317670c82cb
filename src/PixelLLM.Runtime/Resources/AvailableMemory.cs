using System.Globalization;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Runtime;

/// <summary>How much memory a process may still take, and where that number came from (for messages).</summary>
/// <param name="Bytes">Bytes available; <see cref="long.MaxValue"/> = no bound.</param>
/// <param name="Source">e.g. "MemAvailable 21.3 GiB", "cgroup limit 8.0 GiB − 6.5 GiB in use".</param>
public sealed record MemoryAvailability(long Bytes, string Source);

/// <summary>
/// The memory this process may still use: the smaller of the kernel's MemAvailable (/proc/meminfo: free memory plus page
/// cache it can reclaim) and the headroom of every memory cgroup the process sits in (v2 memory.max − memory.current, v1
/// memory.limit_in_bytes − memory.usage_in_bytes, each plus the group's inactive file pages, which it reclaims before
/// failing). <see cref="EnvironmentVariable"/> overrides detection.
/// </summary>
public static class AvailableMemory
{
    /// <summary>Overrides detection: bytes with an optional K/M/G/T suffix (powers of 1024), or "unlimited".</summary>
    public const string EnvironmentVariable = "PIXELLLM_AVAILABLE_MEMORY";

    // cgroup v1 writes a page-rounded long.MaxValue for "no limit"; anything this large is no limit.
    private const long NoLimit = 1L << 60;

    /// <summary>
    /// The override from <see cref="EnvironmentVariable"/> when set (a malformed value is an <see cref="InvalidInputException"/>),
    /// else what <see cref="Detect"/> finds; null when neither says anything (not Linux).
    /// </summary>
    public static MemoryAvailability? Resolve()
    {
        var text = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(text)) return new MemoryAvailability(ParseSize(text, EnvironmentVariable), $"{EnvironmentVariable}={text.Trim()}");
        return Detect("/");
    }

    /// <summary>Reads proc/meminfo, proc/self/cgroup and the cgroup files under <paramref name="root"/> ("/" on a real system).</summary>
    public static MemoryAvailability? Detect(string root)
    {
        MemoryAvailability? best = null;
        var meminfo = Read(root, "proc/meminfo");
        if (meminfo is not null && MemAvailable(meminfo) is long free)
            best = new MemoryAvailability(free, $"MemAvailable {AllocationBudget.Bytes(free)}");
        var groups = Read(root, "proc/self/cgroup");
        if (groups is null) return best;
        foreach (var line in groups.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length != 3) continue;
            MemoryAvailability? group = parts[1].Length == 0 && parts[0] == "0"
                ? Headroom(root, "sys/fs/cgroup", parts[2], "memory.max", "memory.current", "inactive_file")
                : parts[1].Split(',').Contains("memory")
                    ? Headroom(root, "sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
                    : null;
            if (group is not null && (best is null || group.Bytes < best.Bytes)) best = group;
        }
        return best;
    }

    /// <summary>"123456", "64G", "1.5T", "512 MiB", "unlimited" → bytes (K, M, G, T = powers of 1024).</summary>
    public static long ParseSize(string text, string what)
    {
        var t = text.Trim();
        if (t.Equals("unlimited", StringComparison.OrdinalIgnoreCase)) return long.MaxValue;
        int end = t.Length;
        while (end > 0 && char.IsLetter(t[end - 1])) end--;
        var unit = t[end..].ToUpperInvariant().Replace("IB", "").Replace("B", "");
        long scale = unit switch { "" => 1, "K" => 1L << 10, "M" => 1L << 20, "G" => 1L << 30, "T" => 1L << 40, _ => 0 };
        if (scale == 0 || !double.TryParse(t[..end].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || value < 0 || value * scale >= long.MaxValue)
            throw new InvalidInputException($"{what}: '{text}' is not a size (expected bytes such as 17179869184, 16G, 512M, or 'unlimited')");
        return (long)(value * scale);
    }

    /// <summary>MemAvailable of a /proc/meminfo text, in bytes.</summary>
    internal static long? MemAvailable(string meminfo)
    {
        foreach (var line in meminfo.Split('\n'))
        {
            if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
            var fields = line["MemAvailable:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length >= 1 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb * 1024 : null;
        }
        return null;
    }

    /// <summary>The tightest headroom from the process's group up to the hierarchy's root (a parent's limit binds too).</summary>
    private static MemoryAvailability? Headroom(string root, string mount, string groupPath, string limitFile, string usageFile, string reclaimableKey)
    {
        MemoryAvailability? best = null;
        var path = groupPath.Trim('/');
        while (true)
        {
            var dir = Path.Combine(root, mount, path);
            if (Number(Read(dir, limitFile)) is long limit && limit < NoLimit && Number(Read(dir, usageFile)) is long usage)
            {
                long reclaimable = StatValue(Read(dir, "memory.stat"), reclaimableKey);
                long headroom = Math.Max(0, limit - usage + reclaimable);
                if (best is null || headroom < best.Bytes)
                    best = new MemoryAvailability(headroom, $"cgroup limit {AllocationBudget.Bytes(limit)} − {AllocationBudget.Bytes(usage - reclaimable)} in use");
            }
            if (path.Length == 0) return best;
            int slash = path.LastIndexOf('/');
            path = slash < 0 ? "" : path[..slash];
        }
    }

    private static long? Number(string? text) =>
        text is not null && long.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static long StatValue(string? stat, string key)
    {
        foreach (var line in (stat ?? "").Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 2 && fields[0] == key && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var v)) return v;
        }
        return 0;
    }

    private static string? Read(string directory, string file)
    {
        try { return File.ReadAllText(Path.Combine(directory, file)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }
}
