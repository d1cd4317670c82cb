using System.Collections.Concurrent;
using System.Text;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>
/// A PyTorch checkpoint written by <c>torch.save</c> (the zip format of PyTorch ≥ 1.6: <c>&lt;archive&gt;/data.pkl</c>
/// plus one <c>&lt;archive&gt;/data/&lt;key&gt;</c> entry per storage), read without Python. The pickle is decoded by
/// a restricted unpickler that accepts only what a state dict needs (see <see cref="TorchPickleResolver"/>) and refuses
/// any other Python global, so opening an untrusted file never runs code.
/// </summary>
/// <remarks>
/// <para>Tensors are named by joining nested dict keys and list indices with '.', so <c>{"model": state_dict}</c> yields
/// <c>model.&lt;key&gt;</c>; non-tensor values are skipped. Dtypes: float32, float16, bfloat16, int64, int32 and uint8
/// as stored; bool as <see cref="DType.U8"/> 0/1 bytes; float64 converted to <see cref="DType.F32"/>.</para>
/// <para><see cref="Get"/> returns a zero-copy view into the memory-mapped file when the tensor is contiguous and its
/// storage is stored uncompressed (as torch writes it); otherwise a managed copy. Views stay valid only until
/// <see cref="Dispose"/>, and the mapping is read-only.</para>
/// </remarks>
public sealed unsafe class TorchCheckpoint : IWeightSource, IDisposable
{
    private const string PickleName = "data.pkl";

    private readonly MappedFile mapped;
    private readonly ByteWindow file;
    private readonly Dictionary<string, TorchTensorRef> tensors;
    private readonly ConcurrentDictionary<string, Lazy<byte[]>> inflated = new(StringComparer.Ordinal);
    private bool disposed;

    private TorchCheckpoint(MappedFile mapped)
    {
        Path = mapped.Path;
        this.mapped = mapped;
        file = new ByteWindow(mapped.Pointer, mapped.Length);
        var flat = Parse();
        tensors = flat.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        Names = flat.Select(p => p.Key).ToArray();
    }

    /// <summary>The path the checkpoint was opened from (used in every error message).</summary>
    public string Path { get; }

    /// <summary>Tensor names in the order the checkpoint lists them.</summary>
    public IReadOnlyList<string> Names { get; }

    IEnumerable<string> IWeightSource.Names => Names;

    /// <summary>
    /// Maps <paramref name="path"/>, reads its zip directory and pickle, and validates every tensor against its storage.
    /// Malformed, truncated, legacy (pre-1.6) or non-state-dict files throw <see cref="ModelFileException"/> naming the file.
    /// </summary>
    public static TorchCheckpoint Open(string path)
    {
        var mapped = MappedFile.Open(path, 1, _ => new ModelFileException($"{path}: the file is empty; expected a torch.save zip archive"));
        try
        {
            return new TorchCheckpoint(mapped);
        }
        catch
        {
            mapped.Dispose();
            throw;
        }
    }

    /// <summary>Whether the checkpoint holds a tensor named <paramref name="name"/>.</summary>
    public bool Contains(string name) => tensors.ContainsKey(name);

    /// <summary>The dtype and shape <see cref="Get"/> returns for <paramref name="name"/>, without touching its data.</summary>
    public TensorDesc Describe(string name) => DescOf(Find(name));

    /// <summary>
    /// The tensor <paramref name="name"/>: a view into the mapping when possible (valid until <see cref="Dispose"/>),
    /// else a fresh managed copy. A missing name throws <see cref="ModelFileException"/> naming it.
    /// </summary>
    public HostTensor Get(string name)
    {
        var tensor = Find(name);
        var desc = DescOf(tensor);
        if (desc.ByteSize == 0) return new HostTensor(desc, Memory<byte>.Empty);
        var storage = tensor.Storage;
        if (storage.Type.IsConverted || !TorchTensorLayout.IsContiguous(tensor))
            return new HostTensor(desc, MaterializeFromStorage(tensor));

        long start = tensor.Offset * storage.Type.StoredElementSize;
        int length = (int)desc.ByteSize;
        if (storage.Entry.Method == ZipMethod.Stored)
            return new HostTensor(desc, new UnmanagedMemory(file.Pointer(storage.Entry.DataOffset + start, length), length).Memory);
        return new HostTensor(desc, new Memory<byte>(Inflated(storage.Entry), (int)start, length));
    }

    /// <summary>
    /// Lets the OS drop the resident pages of the storage behind <paramref name="name"/> (best effort; stored, i.e.
    /// uncompressed, entries only): views stay valid and read the file again when touched. For streaming converters.
    /// </summary>
    public void ReleasePages(string name)
    {
        var entry = Find(name).Storage.Entry;
        if (entry.Method == ZipMethod.Stored && entry.CompressedSize > 0)
            MappedFileAdvice.DontNeed(file.Pointer(entry.DataOffset, entry.CompressedSize), entry.CompressedSize);
    }

    private static TensorDesc DescOf(TorchTensorRef tensor) => new(tensor.Storage.Type.DType, new Shape(tensor.Size));

    private TorchTensorRef Find(string name)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(name);
        return tensors.TryGetValue(name, out var tensor) ? tensor
            : throw new ModelFileException($"{Path}: no tensor named '{name}' (the checkpoint has {tensors.Count} tensors)");
    }

    private List<KeyValuePair<string, TorchTensorRef>> Parse()
    {
        CheckMagic();
        var entries = ZipDirectory.Read(file, Path);
        var pickle = FindPickle(entries);
        var prefix = pickle.Name[..^PickleName.Length];
        CheckByteOrder(entries, prefix);

        var resolver = new TorchPickleResolver(Path, prefix, entries);
        var bytes = EntryBytes(pickle);
        var root = PickleReader.Load(bytes, $"{Path}: {pickle.Name}", resolver);
        return TorchStateDictFlattener.Flatten(root, bytes.Length, Path);
    }

    private void CheckMagic()
    {
        var head = file.Slice(0, (int)Math.Min(4, file.Length));
        if (head.SequenceEqual("PK\u0003\u0004"u8)) return;
        if (head.Length >= 2 && head[0] == 0x80 && head[1] <= 5)
            throw new ModelFileException($"{Path}: this is a legacy (pre-1.6, non-zip) torch.save file, which is not supported; " +
                                         "re-save it with a current PyTorch (torch.save(torch.load(f), f)) to get the zip format");
        throw new ModelFileException($"{Path}: not a PyTorch checkpoint: a torch.save file is a zip archive starting with 'PK\\x03\\x04', " +
                                     $"but this starts with {Convert.ToHexString(head)}");
    }

    private ZipEntry FindPickle(Dictionary<string, ZipEntry> entries)
    {
        // torch names the archive's top folder after the file (≤ 1.13) or "archive" (newer), so find it by shape.
        var pickles = entries.Values.Where(e => e.Name.EndsWith("/" + PickleName, StringComparison.Ordinal) &&
                                                e.Name.IndexOf('/') == e.Name.Length - PickleName.Length - 1).ToList();
        if (pickles.Count == 1) return pickles[0];
        if (pickles.Count > 1)
            throw new ModelFileException($"{Path}: the archive has {pickles.Count} top-level data.pkl entries; expected one");
        if (entries.Keys.Any(n => n.EndsWith("/constants.pkl", StringComparison.Ordinal)))
            throw new ModelFileException($"{Path}: this is a TorchScript archive (torch.jit.save), which is not supported; " +
                                         "save the model's state_dict() with torch.save instead");
        throw new ModelFileException($"{Path}: the zip archive has no <archive>/data.pkl entry, so it is not a torch.save checkpoint");
    }

    private void CheckByteOrder(Dictionary<string, ZipEntry> entries, string prefix)
    {
        if (!entries.TryGetValue(prefix + "byteorder", out var entry)) return; // written since PyTorch 2.1; older files are little-endian
        if (entry.UncompressedSize > 16)
            throw new ModelFileException($"{Path}: entry '{entry.Name}' is {entry.UncompressedSize} bytes; expected 'little' or 'big'");
        var text = Encoding.ASCII.GetString(EntryBytes(entry).Span).Trim();
        if (text != "little")
            throw new ModelFileException($"{Path}: the checkpoint's byte order is '{text}'; only little-endian checkpoints are supported");
    }

    private ReadOnlyMemory<byte> EntryBytes(ZipEntry entry)
    {
        if (entry.Method == ZipMethod.Deflated) return Inflated(entry);
        if (entry.CompressedSize > int.MaxValue)
            throw new ModelFileException($"{Path}: entry '{entry.Name}' is {entry.CompressedSize} bytes, over the 2 GiB limit for it");
        int length = (int)entry.CompressedSize;
        return new UnmanagedMemory(file.Pointer(entry.DataOffset, length), length).Memory;
    }

    private byte[] MaterializeFromStorage(TorchTensorRef tensor)
    {
        var entry = tensor.Storage.Entry;
        if (entry.Method == ZipMethod.Stored)
            return TorchTensorLayout.Materialize(tensor, new ByteWindow(file.Pointer(entry.DataOffset, entry.CompressedSize), entry.CompressedSize));
        var bytes = Inflated(entry);
        fixed (byte* pointer = bytes) return TorchTensorLayout.Materialize(tensor, new ByteWindow(pointer, bytes.Length));
    }

    private byte[] Inflated(ZipEntry entry) =>
        inflated.GetOrAdd(entry.Name, _ => new Lazy<byte[]>(() => ZipInflater.Inflate(file, entry, Path))).Value;

    /// <summary>Unmaps the file. Views returned by <see cref="Get"/> must not be used afterwards.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        mapped.Dispose();
    }
}
