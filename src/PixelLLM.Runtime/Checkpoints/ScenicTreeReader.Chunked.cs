using System.Globalization;

namespace PixelLLM.Runtime.Checkpoints;

internal sealed partial class ScenicTreeReader
{
    /// <summary>
    /// Flax replaces an array over its msgpack chunk size (~1 GiB) by the map
    /// <c>{'__msgpack_chunked_array__': True, 'shape': {'0': d0, ...}, 'chunks': {'0': flat part, ...}}</c>.
    /// </summary>
    public const string ChunkedArrayMarker = "__msgpack_chunked_array__";

    /// <summary>Re-assembles a chunked array into one managed copy (the parts are not adjacent in the file).</summary>
    private unsafe HostTensor AssembleChunkedArray(List<(string Key, long Offset)> fields)
    {
        foreach (var (key, at) in fields)
            if (key is not (ChunkedArrayMarker or "shape" or "chunks"))
                throw new CheckpointFormatError($"a chunked array has an unexpected field '{key}'", at);
        long shapeAt = Find(fields, "shape") ?? throw new CheckpointFormatError("a chunked array has no 'shape'", reader.Position);
        long chunksAt = Find(fields, "chunks") ?? throw new CheckpointFormatError("a chunked array has no 'chunks'", reader.Position);

        reader.Position = Find(fields, ChunkedArrayMarker)!.Value;
        var flag = reader.Read();
        if (flag is not { Kind: MsgPackKind.Bool, Bits: 1 })
            throw new CheckpointFormatError($"'{ChunkedArrayMarker}' must be true, found {flag.Describe()}", flag.Offset);

        path.Add("shape");
        var dimOffsets = ReadIndexed(shapeAt, "a chunked array's shape");
        if (dimOffsets.Length > NdArrayLeaf.MaxRank)
            throw new CheckpointFormatError($"a chunked array's shape has {dimOffsets.Length} dimensions, more than {NdArrayLeaf.MaxRank}", shapeAt);
        var dims = new int[dimOffsets.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            reader.Position = dimOffsets[i];
            dims[i] = NdArrayLeaf.ReadDimension(reader.Read());
        }
        path[^1] = "chunks";
        var chunks = ReadChunks(ReadIndexed(chunksAt, "a chunked array's chunks"), chunksAt);
        path.RemoveAt(path.Count - 1);

        var dtype = chunks[0].Desc.DType;
        long held = chunks.Sum(c => c.Desc.ByteSize);
        long expected = NdArrayLeaf.ByteSize(dims, dtype.SizeOf());
        if (expected != held)
            throw new CheckpointFormatError(
                $"shape ({string.Join(", ", dims)}) of {dtype} needs {(expected < 0 ? "more than 2^63" : expected.ToString())} bytes " +
                $"but the chunks hold {held}", chunksAt);
        if (held > Array.MaxLength)
            throw new CheckpointFormatError($"a chunked array of {held} bytes is over the 2 GiB a tensor can hold", chunksAt);

        var bytes = new byte[held];
        long written = 0;
        foreach (var chunk in chunks)
        {
            int length = (int)chunk.Desc.ByteSize;
            new ReadOnlySpan<byte>(reader.Pointer(chunk.DataOffset), length).CopyTo(bytes.AsSpan((int)written, length));
            written += length;
        }
        return new HostTensor(new TensorDesc(dtype, new Shape(dims)), bytes);
    }

    /// <summary>Decodes every chunk: flat (1-d) arrays of one dtype.</summary>
    private List<NdArrayLeaf> ReadChunks(long[] offsets, long chunksAt)
    {
        if (offsets.Length == 0) throw new CheckpointFormatError("a chunked array has no chunks", chunksAt);
        var chunks = new List<NdArrayLeaf>();
        for (int i = 0; i < offsets.Length; i++)
        {
            path.Add(i.ToString(CultureInfo.InvariantCulture));
            reader.Position = offsets[i];
            var token = reader.Read();
            if (token is not { Kind: MsgPackKind.Ext, ExtType: NdArrayLeaf.NdArrayExt })
                throw new CheckpointFormatError($"a chunk must be an array (msgpack ext type 1), found {token.Describe()}", token.Offset);
            var chunk = NdArrayLeaf.Decode(reader, token);
            if (chunk.Desc.Shape.Rank != 1)
                throw new CheckpointFormatError($"a chunk must be a flat (1-d) array, found shape {chunk.Desc.Shape}", token.Offset);
            if (i > 0 && chunk.Desc.DType != chunks[0].Desc.DType)
                throw new CheckpointFormatError($"chunk {i} is {chunk.Desc.DType} but chunk 0 is {chunks[0].Desc.DType}", token.Offset);
            chunks.Add(chunk);
            path.RemoveAt(path.Count - 1);
        }
        return chunks;
    }

    /// <summary>
    /// The value offsets of a Flax tuple, in index order: a map keyed '0'..'n-1' (any order), or a msgpack array.
    /// </summary>
    private long[] ReadIndexed(long offset, string what)
    {
        reader.Position = offset;
        var token = reader.Read();
        if (token.Kind == MsgPackKind.Array)
        {
            var items = new List<long>();
            for (long i = 0; i < token.Length; i++)
            {
                items.Add(reader.Position);
                reader.Skip();
            }
            return [.. items];
        }
        if (token.Kind != MsgPackKind.Map)
            throw new CheckpointFormatError($"{what} must be a map keyed '0', '1', ... (a Flax tuple), found {token.Describe()}", token.Offset);
        var entries = ReadMapEntries(token);
        var ordered = new long[entries.Count];
        foreach (var (key, at) in entries)
        {
            // Keys are unique (checked by ReadMapEntries) and canonical, so n valid keys are exactly 0..n-1.
            if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= ordered.Length
                || index.ToString(CultureInfo.InvariantCulture) != key)
                throw new CheckpointFormatError($"{what} has the key '{key}' where an index 0..{ordered.Length - 1} was expected", at);
            ordered[index] = at;
        }
        return ordered;
    }
}
