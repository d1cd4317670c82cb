using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace PixelLLM.Runtime.SafeTensors;

/// <summary>
/// A safetensors file mapped read-only into memory. The header is fully validated by <see cref="Open"/>; tensors
/// are then handed out as <see cref="HostTensor"/> views straight into the mapping (no copy).
/// </summary>
/// <remarks>
/// Views stay valid only until <see cref="Dispose"/>; use <see cref="Load"/> for a copy that outlives the file.
/// The mapping is read-only: writing into a view's data faults the process.
/// </remarks>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MappedFile file;
    private readonly byte* fileStart;
    private readonly long dataOffset;
    private readonly Dictionary<string, SafeTensorsEntry> byName;
    private bool disposed;

    private SafeTensorsFile(MappedFile file, long dataOffset, SafeTensorsHeader header)
    {
        Path = file.Path;
        this.file = file;
        fileStart = file.Pointer;
        this.dataOffset = dataOffset;
        byName = header.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        Names = header.Entries.Select(e => e.Name).ToArray();
        Metadata = header.Metadata;
    }

    /// <summary>The path the file was opened from (used in every error message).</summary>
    public string Path { get; }

    /// <summary>Tensor names in header order (<c>__metadata__</c> excluded).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The header's <c>__metadata__</c> string map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Maps <paramref name="path"/> and validates its header; throws <see cref="SafeTensorsException"/> if malformed.</summary>
    public static SafeTensorsFile Open(string path)
    {
        // An empty file cannot be mapped, and a short one has no length prefix.
        var file = MappedFile.Open(path, 8, length =>
            new SafeTensorsException($"{path}: file is {length} bytes, shorter than the 8-byte header length prefix"));
        try
        {
            var header = ReadHeader(path, new ReadOnlySpan<byte>(file.Pointer, 8), file.Length, file.Pointer, out long dataOffset);
            return new SafeTensorsFile(file, dataOffset, header);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static SafeTensorsHeader ReadHeader(string path, ReadOnlySpan<byte> prefix, long fileLength, byte* basePointer,
        out long dataOffset)
    {
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > SafeTensorsHeader.MaxHeaderBytes)
            throw new SafeTensorsException(
                $"{path}: header length {headerLength} is over the {SafeTensorsHeader.MaxHeaderBytes}-byte limit (corrupt length prefix?)");
        if (headerLength > (ulong)(fileLength - 8))
            throw new SafeTensorsException(
                $"{path}: header length {headerLength} runs past the end of the file ({fileLength} bytes, {fileLength - 8} after the prefix)");
        dataOffset = 8 + (long)headerLength;
        var json = new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength);
        return SafeTensorsHeader.Parse(json, fileLength - dataOffset, path);
    }

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>The tensor <paramref name="name"/> as a zero-copy view; see <see cref="Get"/>.</summary>
    public HostTensor this[string name] => Get(name);

    /// <summary>
    /// The tensor <paramref name="name"/> as a zero-copy view into the mapping, valid until <see cref="Dispose"/>.
    /// Throws <see cref="ModelFileException"/> naming the file and the tensor when it is missing.
    /// </summary>
    public HostTensor Get(string name)
    {
        var entry = Find(name);
        var memory = new UnmanagedMemory(fileStart + dataOffset + entry.Begin, (int)entry.Length).Memory;
        return new HostTensor(entry.Desc, memory);
    }

    /// <summary>The dtype and shape of tensor <paramref name="name"/>, without touching its data.</summary>
    public TensorDesc Describe(string name) => Find(name).Desc;

    /// <summary>
    /// A managed copy of tensor <paramref name="name"/> as <paramref name="dtype"/>: the stored dtype copies the bytes;
    /// F32 converts from any stored dtype; F16/BF16 convert from a stored float dtype. Other conversions throw.
    /// </summary>
    public HostTensor Load(string name, DType dtype)
    {
        var view = Get(name);
        if (view.DType == dtype) return new HostTensor(view.Desc, view.Data.ToArray());
        if (dtype == DType.F32) return HostTensor.FromArray(view.ToFloatArray(), view.Shape.ToArray());
        if (view.DType.IsFloat() && (dtype is DType.F16 or DType.BF16))
            return ConvertFloats(view.ToFloatArray(), view.Shape, dtype);
        throw new ModelFileException($"{Path}: tensor '{name}' is {view.DType}, which cannot be loaded as {dtype}");
    }

    private static HostTensor ConvertFloats(float[] values, Shape shape, DType dtype)
    {
        var result = HostTensor.Zeros(dtype, shape.ToArray());
        if (dtype == DType.F16)
        {
            var half = result.AsSpan<Half>();
            for (int i = 0; i < values.Length; i++) half[i] = (Half)values[i];
        }
        else
        {
            BFloat16.FromSingles(values, result.AsSpan<ushort>());
        }
        return result;
    }

    /// <summary>
    /// Lets the OS drop the resident pages of tensor <paramref name="name"/> (best effort; Linux only). Views stay valid:
    /// touching them reads the pages again. Streaming converters call this after writing a tensor so that reading a
    /// checkpoint bigger than memory does not keep all of it resident.
    /// </summary>
    public void ReleasePages(string name)
    {
        var entry = Find(name);
        Checkpoints.MappedFileAdvice.DontNeed(fileStart + dataOffset + entry.Begin, entry.Length);
    }

    /// <summary>The byte range [offset, offset + length) that tensor <paramref name="name"/> occupies in the file.</summary>
    internal (long Offset, long Length) FileRange(string name)
    {
        var entry = Find(name);
        return (dataOffset + entry.Begin, entry.Length);
    }

    private SafeTensorsEntry Find(string name)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(name);
        return byName.TryGetValue(name, out var entry)
            ? entry
            : throw new ModelFileException($"{Path}: no tensor named '{name}' (the file has {byName.Count} tensors)");
    }

    /// <summary>Unmaps the file. Views returned by <see cref="Get"/> must not be used afterwards.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        file.Dispose();
    }
}
