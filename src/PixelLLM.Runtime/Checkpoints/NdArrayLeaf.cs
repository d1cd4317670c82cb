namespace PixelLLM.Runtime.Checkpoints;

/// <summary>An array leaf of a checkpoint: its dtype and shape, and where its raw C-order bytes lie in the buffer.</summary>
internal readonly record struct NdArrayLeaf(TensorDesc Desc, long DataOffset)
{
    /// <summary>Flax's ext type codes (<c>flax.serialization._MsgpackExtType</c>).</summary>
    public const sbyte NdArrayExt = 1, NativeComplexExt = 2, NumpyScalarExt = 3;

    /// <summary>numpy allows 64 dimensions; anything deeper is corrupt.</summary>
    public const int MaxRank = 64;

    /// <summary>
    /// Decodes an ndarray (type 1) or numpy-scalar (type 3) ext value. Its payload is itself msgpack,
    /// <c>[shape, dtype name, data]</c>, which must fill the payload exactly; the data must be exactly the bytes the
    /// shape and dtype need.
    /// </summary>
    public static NdArrayLeaf Decode(MsgPackReader reader, in MsgPackToken ext)
    {
        switch (ext.ExtType)
        {
            case NdArrayExt or NumpyScalarExt: break;
            case NativeComplexExt:
                throw new CheckpointFormatError("a Python complex value (ext type 2) is not a tensor the engine can load", ext.Offset);
            default:
                throw new CheckpointFormatError(
                    $"ext type {ext.ExtType} is not an array (Flax writes arrays as ext type 1 and numpy scalars as ext type 3)", ext.Offset);
        }
        var payload = reader.Payload(ext);
        var outer = payload.Read();
        if (outer.Kind != MsgPackKind.Array || outer.Length != 3)
            throw new CheckpointFormatError($"an array payload must be [shape, dtype, data], found {outer.Describe()}", outer.Offset);

        var dims = ReadShape(payload);
        if (ext.ExtType == NumpyScalarExt && dims.Length != 0)
            throw new CheckpointFormatError($"a numpy scalar (ext type 3) must have shape (), found ({string.Join(", ", dims)})", ext.Offset);
        var dtypeName = payload.ReadString("an array's dtype name");
        var dtype = ParseDType(dtypeName)
            ?? throw new CheckpointFormatError(
                $"dtype '{dtypeName}' is not supported (float32, float16, bfloat16, int32, int64 and uint8 are)", ext.Offset);

        var data = payload.Read();
        if (data.Kind != MsgPackKind.Bin)
            throw new CheckpointFormatError($"an array's data must be a bin, found {data.Describe()}", data.Offset);
        long expected = ByteSize(dims, dtype.SizeOf());
        if (data.Length != expected)
            throw new CheckpointFormatError(
                $"shape ({string.Join(", ", dims)}) of {dtypeName} needs {(expected < 0 ? "more than 2^63" : expected.ToString())} bytes " +
                $"but the array's data has {data.Length}", data.Offset);
        if (payload.Remaining != 0)
            throw new CheckpointFormatError($"{payload.Remaining} unexpected bytes follow the array's data inside its ext payload", payload.Position);
        if (expected > int.MaxValue)
            throw new CheckpointFormatError(
                $"an array of {expected} bytes is over the 2 GiB a tensor view can hold (Flax splits such arrays into chunks)", ext.Offset);
        return new NdArrayLeaf(new TensorDesc(dtype, new Shape(dims)), data.PayloadOffset);
    }

    /// <summary>numpy's <c>dtype.name</c> → <see cref="DType"/>; null for every other dtype.</summary>
    public static DType? ParseDType(string name) => name switch
    {
        "float32" => DType.F32,
        "float16" => DType.F16,
        "bfloat16" => DType.BF16,
        "int32" => DType.I32,
        "int64" => DType.I64,
        "uint8" => DType.U8,
        _ => null,
    };

    /// <summary>Bytes of a C-order array of <paramref name="dims"/>; -1 when that exceeds long (then no data can match).</summary>
    public static long ByteSize(ReadOnlySpan<int> dims, int elementSize)
    {
        foreach (var d in dims) if (d == 0) return 0;
        long bytes = elementSize;
        foreach (var d in dims)
        {
            if (bytes > long.MaxValue / d) return -1;
            bytes *= d;
        }
        return bytes;
    }

    private static int[] ReadShape(MsgPackReader payload)
    {
        var shape = payload.Read();
        if (shape.Kind != MsgPackKind.Array)
            throw new CheckpointFormatError($"an array's shape must be an array of integers, found {shape.Describe()}", shape.Offset);
        if (shape.Length > MaxRank)
            throw new CheckpointFormatError($"an array's shape has {shape.Length} dimensions, more than the {MaxRank} numpy allows", shape.Offset);
        var dims = new int[shape.Length];
        for (int i = 0; i < dims.Length; i++) dims[i] = ReadDimension(payload.Read());
        return dims;
    }

    /// <summary>One dimension: a non-negative integer that fits <see cref="Shape"/>'s int.</summary>
    public static int ReadDimension(in MsgPackToken token)
    {
        long value = token.NonNegativeInteger;
        if (value < 0 || value > int.MaxValue)
            throw new CheckpointFormatError(
                $"an array dimension must be an integer in [0, {int.MaxValue}], found {token.Describe()}", token.Offset);
        return (int)value;
    }
}
