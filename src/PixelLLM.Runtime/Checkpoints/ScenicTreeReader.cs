using System.Buffers.Binary;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>A parameter found in the checkpoint: a view range in the buffer, or (for a re-assembled chunked array) its own copy.</summary>
internal sealed record CheckpointEntry(TensorDesc Desc, long DataOffset, HostTensor? Owned);

/// <summary>
/// Walks a Flax train state (<c>flax.serialization.to_bytes</c>): finds the <c>params</c> subtree (or the older
/// <c>optimizer/target/params</c>), steps over everything else without decoding it (<c>opt_state</c>,
/// <c>model_state</c> with <c>params_axes</c>, <c>rng</c>, <c>metadata</c>), and flattens the parameters to
/// '/'-joined names. Map entries are found by key, never by position. The current tree path is kept so that
/// <see cref="LocationOf"/> can say where a failure happened.
/// </summary>
internal sealed partial class ScenicTreeReader(MsgPackReader reader)
{
    private readonly List<string> path = [];
    private int rootDepth;

    public Dictionary<string, CheckpointEntry> Entries { get; } = new(StringComparer.Ordinal);
    public List<string> Names { get; } = [];
    public string ParamsRoot { get; private set; } = "";
    public long? GlobalStep { get; private set; }

    /// <summary>
    /// Where in the tree <paramref name="error"/> happened, e.g. <c>params/textual/t5_module/encoder/layers_0</c>:
    /// the walker's path plus the error's path inside a value that was being skipped. Very deep paths are elided.
    /// </summary>
    public string LocationOf(CheckpointFormatError error)
    {
        var components = path.Concat(error.InnerPath).ToList();
        if (components.Count == 0) return "the top level";
        if (components.Count > 24) components = [.. components.Take(12), "…", .. components.TakeLast(8)];
        return string.Join('/', components);
    }

    public void Read()
    {
        var top = reader.Read();
        if (top.Kind != MsgPackKind.Map)
            throw new CheckpointFormatError($"a checkpoint must be a msgpack map (a Flax state dict), found {top.Describe()}", top.Offset);
        var fields = ReadMapEntries(top);
        if (reader.Remaining != 0)
            throw new CheckpointFormatError($"{reader.Remaining} bytes follow the checkpoint's top-level map", reader.Position);

        long paramsAt = FindParams(fields);
        ReadParamsTree(paramsAt);
        if (Find(fields, "global_step") is { } stepAt) GlobalStep = TryReadInteger(stepAt);
    }

    /// <summary>The offset of the params map; sets <see cref="ParamsRoot"/> and leaves its components on the path.</summary>
    private long FindParams(List<(string Key, long Offset)> top)
    {
        if (Find(top, "params") is { } at && !IsNil(at))
        {
            path.Add("params");
            ParamsRoot = "params";
            return at;
        }
        if (Find(top, "optimizer") is { } optimizerAt)
        {
            long current = optimizerAt;
            path.Add("optimizer");
            foreach (var key in (ReadOnlySpan<string>)["target", "params"])
            {
                reader.Position = current;
                var map = reader.Read();
                if (map.Kind != MsgPackKind.Map)
                    throw new CheckpointFormatError($"expected a map holding '{key}', found {map.Describe()}", map.Offset);
                current = Find(ReadMapEntries(map), key)
                    ?? throw new CheckpointFormatError($"the map has no '{key}' entry", map.Offset);
                path.Add(key);
            }
            ParamsRoot = "optimizer/target/params";
            return current;
        }
        throw new CheckpointFormatError(
            $"the checkpoint has no 'params' (nor 'optimizer/target/params'); its top-level keys are " +
            $"[{string.Join(", ", top.Select(f => f.Key))}]", 0);
    }

    private void ReadParamsTree(long offset)
    {
        rootDepth = path.Count;
        reader.Position = offset;
        var root = reader.Read();
        if (root.Kind != MsgPackKind.Map)
            throw new CheckpointFormatError($"the params must be a map of modules, found {root.Describe()}", root.Offset);
        ReadChildren(ReadMapEntries(root));
    }

    private void ReadNode(long offset)
    {
        reader.Position = offset;
        var token = reader.Read();
        switch (token.Kind)
        {
            case MsgPackKind.Ext:
                var leaf = NdArrayLeaf.Decode(reader, token);
                Add(new CheckpointEntry(leaf.Desc, leaf.DataOffset, null), token.Offset);
                break;
            case MsgPackKind.Map:
                if (path.Count - rootDepth >= MsgPackReader.MaxDepth)
                    throw new CheckpointFormatError($"parameters are nested more than {MsgPackReader.MaxDepth} levels deep", token.Offset);
                var entries = ReadMapEntries(token);
                if (Find(entries, ChunkedArrayMarker) is not null)
                {
                    var assembled = AssembleChunkedArray(entries);
                    Add(new CheckpointEntry(assembled.Desc, 0, assembled), token.Offset);
                }
                else
                    ReadChildren(entries); // an empty map is a module without parameters: no tensor
                break;
            default:
                throw new CheckpointFormatError(
                    $"a parameter must be an array (msgpack ext type 1) or a map of parameters, found {token.Describe()}", token.Offset);
        }
    }

    private void ReadChildren(List<(string Key, long Offset)> entries)
    {
        foreach (var (key, at) in entries)
        {
            path.Add(key);
            ReadNode(at);
            path.RemoveAt(path.Count - 1);
        }
    }

    private void Add(CheckpointEntry entry, long offset)
    {
        var name = string.Join('/', path.Skip(rootDepth));
        if (!Entries.TryAdd(name, entry))
            throw new CheckpointFormatError($"two parameters flatten to the same name '{name}' (a key contains '/')", offset);
        Names.Add(name);
    }

    /// <summary>
    /// Reads a map's entries (string keys, no duplicates), stepping over each value; returns where each value starts.
    /// A value that fails to parse is reported under its key.
    /// </summary>
    private List<(string Key, long Offset)> ReadMapEntries(in MsgPackToken map)
    {
        var entries = new List<(string, long)>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; i < map.Length; i++)
        {
            var keyToken = reader.Read();
            if (keyToken.Kind != MsgPackKind.Str)
                throw new CheckpointFormatError($"a map key must be a string, found {keyToken.Describe()}", keyToken.Offset);
            var key = reader.DecodeString(keyToken);
            if (!keys.Add(key))
                throw new CheckpointFormatError($"the map has the key '{key}' more than once", keyToken.Offset);
            entries.Add((key, reader.Position));
            path.Add(key);
            reader.Skip();
            path.RemoveAt(path.Count - 1);
        }
        return entries;
    }

    private static long? Find(List<(string Key, long Offset)> entries, string key)
    {
        foreach (var (k, at) in entries) if (k == key) return at;
        return null;
    }

    private bool IsNil(long offset)
    {
        reader.Position = offset;
        return reader.Read().Kind == MsgPackKind.Nil;
    }

    /// <summary>global_step as scenic stores it (a 0-d int array, a numpy scalar or a plain integer); null when it is none of these.</summary>
    private unsafe long? TryReadInteger(long offset)
    {
        reader.Position = offset;
        var token = reader.Read();
        if (token.Kind == MsgPackKind.Int) return token.Bits;
        if (token.Kind == MsgPackKind.UInt) return token.NonNegativeInteger is >= 0 and var v ? v : null;
        if (token.Kind != MsgPackKind.Ext) return null;
        try
        {
            var leaf = NdArrayLeaf.Decode(reader, token);
            if (leaf.Desc.Shape.Rank != 0) return null;
            var bytes = new ReadOnlySpan<byte>(reader.Pointer(leaf.DataOffset), (int)leaf.Desc.ByteSize);
            return leaf.Desc.DType switch
            {
                DType.I32 => BinaryPrimitives.ReadInt32LittleEndian(bytes),
                DType.I64 => BinaryPrimitives.ReadInt64LittleEndian(bytes),
                _ => null,
            };
        }
        catch (CheckpointFormatError)
        {
            return null; // bookkeeping only: a step the engine cannot read must not make the weights unreadable
        }
    }
}
