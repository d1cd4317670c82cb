namespace PixelLLM.Tests.Support;

/// <summary>A Flax state-dict map with its entries in the order they are written (key order matters to no reader).</summary>
internal sealed class FlaxMap : List<(string Key, object? Value)>
{
    public void Add(string key, object? value) => Add((key, value));

    /// <summary>A Python tuple as Flax stores it: a map keyed '0', '1', ...</summary>
    public static FlaxMap Tuple(params object?[] items)
    {
        var map = new FlaxMap();
        for (int i = 0; i < items.Length; i++) map.Add(i.ToString(), items[i]);
        return map;
    }
}

/// <summary>A numpy array leaf: ext <paramref name="ExtType"/> with payload msgpack [shape, dtype name, C-order bytes].</summary>
internal sealed record NdArray(string DType, int[] Shape, byte[] Data, sbyte ExtType = 1)
{
    public static int ElementSize(string dtype) => dtype switch
    {
        "float64" or "int64" or "uint64" or "complex64" => 8,
        "float32" or "int32" or "uint32" => 4,
        "float16" or "bfloat16" or "int16" => 2,
        _ => 1,
    };

    /// <summary>Random bytes of the right size for <paramref name="shape"/>.</summary>
    public static NdArray Random(Random rng, string dtype, params int[] shape)
    {
        long count = 1;
        foreach (var d in shape) count *= d;
        var data = new byte[count * ElementSize(dtype)];
        rng.NextBytes(data);
        return new NdArray(dtype, shape, data);
    }
}

/// <summary>Writes a state tree the way <c>flax.serialization.msgpack_serialize</c> lays it out.</summary>
internal static class FlaxStateWriter
{
    public static byte[] Serialize(object? state)
    {
        var builder = new MsgPackBuilder();
        Write(builder, state);
        return builder.ToArray();
    }

    /// <summary>
    /// null → nil, bool, long/int → int, double → float64, string → str, byte[] → bin, object[] → array,
    /// <see cref="FlaxMap"/> → map, <see cref="NdArray"/> → ext.
    /// </summary>
    public static void Write(MsgPackBuilder b, object? value)
    {
        switch (value)
        {
            case null: b.Nil(); break;
            case bool v: b.Bool(v); break;
            case int v: b.Int(v); break;
            case long v: b.Int(v); break;
            case double v: b.Float64(v); break;
            case string v: b.Str(v); break;
            case byte[] v: b.Bin(v); break;
            case object?[] items:
                b.Array(items.Length);
                foreach (var item in items) Write(b, item);
                break;
            case FlaxMap map:
                b.Map(map.Count);
                foreach (var (key, item) in map) { b.Str(key); Write(b, item); }
                break;
            case NdArray array:
                var payload = new MsgPackBuilder();
                WritePayload(payload, array);
                b.ExtHeader(array.ExtType, payload.Length);
                WritePayload(b, array); // written again in place so the fuzz test knows its header offsets
                break;
            default:
                throw new ArgumentException($"cannot serialise {value.GetType().Name}");
        }
    }

    private static void WritePayload(MsgPackBuilder b, NdArray array)
    {
        b.Array(3).Array(array.Shape.Length);
        foreach (var d in array.Shape) b.Int(d);
        b.Str(array.DType).Bin(array.Data);
    }
}
