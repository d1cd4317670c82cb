using System.Runtime.InteropServices;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>
/// Read-ahead hints for a mapped file, best effort: Linux <c>madvise</c>, a no-op elsewhere or when the call fails.
/// Walking a checkpoint touches one page per array header; with the kernel's default read-around every such fault
/// reads megabytes around it, so a cold open would read the whole opt_state it only steps over (measured: all 734 MB
/// of a 734 MB test file, against 2.9 MB with <see cref="RandomAccess"/>).
/// </summary>
internal static unsafe partial class MappedFileAdvice
{
    private const int MadviseNormal = 0, MadviseRandom = 1, MadviseDontNeed = 4;

    /// <summary>Fault in single pages while the tree is walked.</summary>
    public static void RandomAccess(byte* mappingStart, long length) => Advise(mappingStart, length, MadviseRandom);

    /// <summary>Back to the default read-ahead, for reading the parameters' data.</summary>
    public static void Normal(byte* mappingStart, long length) => Advise(mappingStart, length, MadviseNormal);

    /// <summary>
    /// Drops the resident pages of [<paramref name="start"/>, +<paramref name="length"/>) of a read-only file mapping: they
    /// stop counting towards the process's memory and are read again from the file if touched. Used by streaming converters.
    /// </summary>
    public static void DontNeed(byte* start, long length)
    {
        long page = Environment.SystemPageSize;
        long misalignment = (long)start % page;
        Advise(start - misalignment, length + misalignment, MadviseDontNeed);
    }

    private static void Advise(byte* mappingStart, long length, int advice)
    {
        if (!OperatingSystem.IsLinux() || length <= 0) return;
        try
        {
            _ = Madvise((nint)mappingStart, (nuint)length, advice); // a refused hint changes speed, never results
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
