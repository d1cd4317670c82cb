using PixelLLM.Runtime.Weights;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>
/// A legacy Flax msgpack checkpoint as scenic's trainer writes it (<c>checkpoint_&lt;step&gt;</c>), mapped read-only.
/// Only the <c>params</c> subtree is read (older states: <c>optimizer/target/params</c>); <c>opt_state</c> and every
/// other field are stepped over without being decoded. Parameters are named by their tree path joined with '/'
/// (e.g. <c>textual/t5_module/encoder/layers_0/attention/query/kernel</c>), the names the weights.safetensors files
/// use. <see cref="Open"/> validates the whole params tree; tensors are then zero-copy views into the mapping.
/// </summary>
/// <remarks>
/// Views stay valid only until <see cref="Dispose"/>, and the mapping is read-only. Views start wherever msgpack put
/// the bytes, so they are generally not 4-byte aligned. Arrays Flax split into chunks (over ~1 GiB) are the exception:
/// they are re-assembled into managed copies at open.
/// </remarks>
public sealed unsafe class ScenicCheckpoint : IWeightSource, IDisposable
{
    private readonly MappedFile file;
    private readonly byte* fileStart;
    private readonly Dictionary<string, CheckpointEntry> byName;
    private bool disposed;

    private ScenicCheckpoint(MappedFile file, ScenicTreeReader tree)
    {
        Path = file.Path;
        this.file = file;
        fileStart = file.Pointer;
        byName = tree.Entries;
        Names = tree.Names.ToArray();
        ParamsRoot = tree.ParamsRoot;
        GlobalStep = tree.GlobalStep;
    }

    /// <summary>The path the file was opened from (used in every error message).</summary>
    public string Path { get; }

    /// <summary>Parameter names in file order (Flax sorts every map's keys).</summary>
    public IReadOnlyList<string> Names { get; }

    IEnumerable<string> IWeightSource.Names => Names;

    /// <summary>Where the parameters were found: <c>params</c>, or <c>optimizer/target/params</c> in older scenic states.</summary>
    public string ParamsRoot { get; }

    /// <summary>The train state's <c>global_step</c> when it holds an integer; null otherwise.</summary>
    public long? GlobalStep { get; }

    /// <summary>
    /// Maps <paramref name="path"/> and validates its params tree. A malformed file, or a parameter with a dtype the
    /// engine cannot hold, throws <see cref="ScenicCheckpointException"/> naming the file and the tree path.
    /// </summary>
    public static ScenicCheckpoint Open(string path)
    {
        var file = MappedFile.Open(path, 1, _ => new ScenicCheckpointException($"{path}: the file is empty"));
        try
        {
            long mapped = file.Length + (file.Pointer - file.MappingStart);
            MappedFileAdvice.RandomAccess(file.MappingStart, mapped);
            var tree = Parse(path, file.Pointer, file.Length);
            MappedFileAdvice.Normal(file.MappingStart, mapped);
            return new ScenicCheckpoint(file, tree);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static ScenicTreeReader Parse(string path, byte* basePointer, long length)
    {
        var tree = new ScenicTreeReader(new MsgPackReader(basePointer, 0, length));
        try
        {
            tree.Read();
            return tree;
        }
        catch (CheckpointFormatError e)
        {
            throw new ScenicCheckpointException($"{path}: at {tree.LocationOf(e)}: {e.Message} (byte offset {e.Offset})");
        }
    }

    /// <summary>Whether the checkpoint holds a parameter named <paramref name="name"/>.</summary>
    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>
    /// The parameter <paramref name="name"/>: a zero-copy view into the mapping, valid until <see cref="Dispose"/>.
    /// A missing name throws <see cref="ModelFileException"/> naming the file and the parameter.
    /// </summary>
    public HostTensor Get(string name)
    {
        var entry = Find(name);
        if (entry.Owned is { } owned) return owned;
        return new HostTensor(entry.Desc, new UnmanagedMemory(fileStart + entry.DataOffset, (int)entry.Desc.ByteSize).Memory);
    }

    /// <summary>The dtype and shape of parameter <paramref name="name"/>, without touching its data.</summary>
    public TensorDesc Describe(string name) => Find(name).Desc;

    /// <summary>Total bytes of all parameters.</summary>
    public long ParameterBytes => byName.Values.Sum(e => e.Desc.ByteSize);

    /// <summary>
    /// Lets the OS drop the resident pages of parameter <paramref name="name"/> (best effort): views stay valid and read the
    /// file again when touched. Streaming converters call it after writing a tensor.
    /// </summary>
    public void ReleasePages(string name)
    {
        if (FileRange(name) is { } range) MappedFileAdvice.DontNeed(fileStart + range.Offset, range.Length);
    }

    /// <summary>The byte range of a parameter viewed in place; null for a re-assembled chunked array.</summary>
    internal (long Offset, long Length)? FileRange(string name)
    {
        var entry = Find(name);
        return entry.Owned is null ? (entry.DataOffset, entry.Desc.ByteSize) : null;
    }

    private CheckpointEntry Find(string name)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(name);
        return byName.TryGetValue(name, out var entry)
            ? entry
            : throw new ModelFileException($"{Path}: no parameter named '{name}' under {ParamsRoot} (the checkpoint has {byName.Count})");
    }

    /// <summary>Unmaps the file. Views returned by <see cref="Get"/> must not be used afterwards.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        file.Dispose();
    }
}
