namespace PixelLLM.Runtime.Checkpoints;

/// <summary>The msgpack value families; each wire format (fixmap, map16, map32, ...) folds into one.</summary>
internal enum MsgPackKind : byte { Nil, Bool, Int, UInt, Float, Str, Bin, Array, Map, Ext }

/// <summary>
/// One decoded msgpack header. Scalars carry their value; str, bin and ext carry where their payload lies in the
/// buffer (the reader has already stepped past it); array and map carry their element / entry count, and their
/// elements follow the header.
/// </summary>
/// <param name="Kind">The value family.</param>
/// <param name="Offset">Buffer offset of the header's first byte (used in error messages).</param>
/// <param name="Length">Element count (array), entry count (map) or payload byte length (str, bin, ext).</param>
/// <param name="Bits">Int: the value; UInt: the value's bits; Bool: 0 or 1; Float: the double's bits.</param>
/// <param name="ExtType">The application type code of an ext value.</param>
/// <param name="PayloadOffset">Buffer offset of a str, bin or ext payload.</param>
internal readonly record struct MsgPackToken(MsgPackKind Kind, long Offset, long Length, long Bits, sbyte ExtType, long PayloadOffset)
{
    public bool IsInteger => Kind is MsgPackKind.Int or MsgPackKind.UInt;

    /// <summary>A non-negative integer value as long, or -1 when the token is not one (or exceeds long).</summary>
    public long NonNegativeInteger => Kind switch
    {
        MsgPackKind.Int when Bits >= 0 => Bits,
        MsgPackKind.UInt when Bits >= 0 => Bits, // a uint64 above long.MaxValue has its sign bit set
        _ => -1,
    };

    /// <summary>How the token reads in an error message, e.g. "a map of 3 entries" or "an ext (type 7)".</summary>
    public string Describe() => Kind switch
    {
        MsgPackKind.Nil => "nil",
        MsgPackKind.Bool => Bits != 0 ? "true" : "false",
        MsgPackKind.Int => $"the integer {Bits}",
        MsgPackKind.UInt => $"the integer {(ulong)Bits}",
        MsgPackKind.Float => "a float",
        MsgPackKind.Str => $"a string of {Length} bytes",
        MsgPackKind.Bin => $"a bin of {Length} bytes",
        MsgPackKind.Array => $"an array of {Length} elements",
        MsgPackKind.Map => $"a map of {Length} entries",
        MsgPackKind.Ext => $"an ext value (type {ExtType}, {Length} bytes)",
        _ => Kind.ToString(),
    };
}
