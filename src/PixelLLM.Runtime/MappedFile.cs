using System.IO.MemoryMappedFiles;

namespace PixelLLM.Runtime;

/// <summary>
/// A whole file mapped read-only with its base pointer acquired once: what every checkpoint reader hands out
/// zero-copy views into. Writing through <see cref="Pointer"/> faults the process; nothing may use it after Dispose.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile mapping;
    private readonly MemoryMappedViewAccessor view;
    private bool disposed;

    private MappedFile(string path, long length, MemoryMappedFile mapping, MemoryMappedViewAccessor view, byte* mappingStart)
    {
        Path = path; Length = length; this.mapping = mapping; this.view = view;
        MappingStart = mappingStart;
        Pointer = mappingStart + view.PointerOffset;
    }

    public string Path { get; }
    public long Length { get; }
    /// <summary>The file's first byte.</summary>
    public byte* Pointer { get; }
    /// <summary>The page-aligned start of the mapping (at or before <see cref="Pointer"/>), for madvise.</summary>
    public byte* MappingStart { get; }

    /// <summary>
    /// Maps <paramref name="path"/>. Files shorter than <paramref name="minimumLength"/> (at least 1: an empty file cannot be
    /// mapped) are rejected with the exception <paramref name="tooShort"/> builds from the actual length.
    /// </summary>
    public static MappedFile Open(string path, long minimumLength, Func<long, Exception> tooShort)
    {
        ArgumentNullException.ThrowIfNull(path);
        FileKind.RequireRegularInput(path, "a weights or checkpoint file");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        MemoryMappedFile? mapping = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            long length = stream.Length;
            if (length < Math.Max(1, minimumLength)) throw tooShort(length);
            mapping = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = mapping.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            return new MappedFile(path, length, mapping, view, start);
        }
        catch
        {
            view?.Dispose();
            if (mapping is null) stream.Dispose(); else mapping.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        mapping.Dispose();
    }
}
