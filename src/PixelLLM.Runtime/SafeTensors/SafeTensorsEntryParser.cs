using System.Text.Json;

namespace PixelLLM.Runtime.SafeTensors;

/// <summary>Parses and validates one <c>name: {dtype, shape, data_offsets}</c> entry of a safetensors header.</summary>
internal static class SafeTensorsEntryParser
{
    /// <summary>Reads the entry's value (the reader is on its property name) and validates it completely.</summary>
    public static SafeTensorsEntry Parse(ref Utf8JsonReader reader, string name, long dataLength, string file)
    {
        string Where() => $"{file}: tensor '{name}'";
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafeTensorsException($"{Where()}: the entry must be a JSON object with dtype, shape and data_offsets, got {reader.TokenType}");

        string? dtypeName = null;
        int[]? dims = null;
        ulong[]? offsets = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var field = SafeTensorsHeader.ReadString(ref reader, file, $"a field name of tensor '{name}'");
            reader.Read();
            switch (field)
            {
                case "dtype" when dtypeName is null:
                    if (reader.TokenType != JsonTokenType.String)
                        throw new SafeTensorsException($"{Where()}: dtype must be a string, got {reader.TokenType}");
                    dtypeName = SafeTensorsHeader.ReadString(ref reader, file, $"the dtype of tensor '{name}'");
                    break;
                case "shape" when dims is null:
                    dims = ReadShape(ref reader, Where());
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ReadOffsets(ref reader, Where());
                    break;
                case "dtype" or "shape" or "data_offsets":
                    throw new SafeTensorsException($"{Where()}: the field '{field}' appears more than once");
                default:
                    throw new SafeTensorsException($"{Where()}: unexpected field '{field}'; an entry has exactly dtype, shape and data_offsets");
            }
        }
        if (dtypeName is null || dims is null || offsets is null)
            throw new SafeTensorsException($"{Where()}: missing field '{(dtypeName is null ? "dtype" : dims is null ? "shape" : "data_offsets")}'");
        if (!DTypes.TryParseSafetensors(dtypeName, out var dtype))
            throw new SafeTensorsException($"{Where()}: unsupported dtype '{dtypeName}'; expected one of F32, F16, BF16, I32, I64, U8");

        return Validate(name, new TensorDesc(dtype, new Shape(dims)), offsets[0], offsets[1], dataLength, Where());
    }

    private static SafeTensorsEntry Validate(string name, TensorDesc desc, ulong begin, ulong end, long dataLength, string where)
    {
        if (begin > end)
            throw new SafeTensorsException($"{where}: data_offsets [{begin}, {end}) has begin after end");
        if (end > (ulong)dataLength)
            throw new SafeTensorsException($"{where}: data_offsets [{begin}, {end}) reach past the data section, which is {dataLength} bytes");
        var byteSize = CheckedByteSize(desc, where);
        if (byteSize != (long)(end - begin))
            throw new SafeTensorsException(
                $"{where}: {desc} needs {byteSize} bytes but data_offsets [{begin}, {end}) hold {end - begin}");
        // HostTensor views are Memory<byte>, which cannot span more than int.MaxValue bytes.
        if (byteSize > int.MaxValue)
            throw new SafeTensorsException($"{where}: {byteSize} bytes is over the 2 GiB per-tensor limit");
        return new SafeTensorsEntry(name, desc, (long)begin, (long)end);
    }

    /// <summary>Element count × dtype size, failing (instead of wrapping) when it does not fit in a long.</summary>
    private static long CheckedByteSize(TensorDesc desc, string where)
    {
        var dims = desc.Shape.Dims;
        foreach (var d in dims)
            if (d == 0) return 0; // checked before multiplying, so (huge, huge, 0) is not an overflow
        try
        {
            long n = desc.DType.SizeOf();
            foreach (var d in dims) n = checked(n * d);
            return n;
        }
        catch (OverflowException e)
        {
            throw new SafeTensorsException($"{where}: shape {desc.Shape} of {desc.DType} has more bytes than fit in 64 bits", e);
        }
    }

    private static int[] ReadShape(ref Utf8JsonReader reader, string where)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new SafeTensorsException($"{where}: shape must be a JSON array of non-negative integers, got {reader.TokenType}");
        var dims = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (dims.Count == SafeTensorsHeader.MaxRank)
                throw new SafeTensorsException($"{where}: shape has more than {SafeTensorsHeader.MaxRank} dimensions");
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var d) || d < 0 || d > int.MaxValue)
                throw new SafeTensorsException(
                    $"{where}: shape dimension {dims.Count} must be an integer in [0, {int.MaxValue}], got {Describe(ref reader)}");
            dims.Add((int)d);
        }
        return [.. dims];
    }

    private static ulong[] ReadOffsets(ref Utf8JsonReader reader, string where)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new SafeTensorsException($"{where}: data_offsets must be a JSON array [begin, end], got {reader.TokenType}");
        var offsets = new List<ulong>(2);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (offsets.Count == 2)
                throw new SafeTensorsException($"{where}: data_offsets must have exactly two elements [begin, end]");
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out var o))
                throw new SafeTensorsException($"{where}: data_offsets must hold non-negative integers, got {Describe(ref reader)}");
            offsets.Add(o);
        }
        if (offsets.Count != 2)
            throw new SafeTensorsException($"{where}: data_offsets must have exactly two elements [begin, end], got {offsets.Count}");
        return [.. offsets];
    }

    /// <summary>The offending token for a message: numbers and strings verbatim (shortened), other tokens by kind.</summary>
    private static string Describe(ref Utf8JsonReader reader)
    {
        if (reader.TokenType is not (JsonTokenType.Number or JsonTokenType.String)) return reader.TokenType.ToString();
        var text = System.Text.Encoding.UTF8.GetString(reader.ValueSpan); // parsed from one span, never a sequence
        return text.Length > 40 ? text[..40] + "…" : text;
    }
}
