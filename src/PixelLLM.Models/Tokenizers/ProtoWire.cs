using System.Text;

namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// The few protobuf wire-format primitives needed to read and amend a SentencePiece <c>ModelProto</c>
/// (varints, 32-bit floats, length-delimited fields). Malformed input raises <see cref="FormatException"/>;
/// callers turn it into a <c>ModelFileException</c> naming the file.
/// </summary>
internal ref struct ProtoReader(ReadOnlySpan<byte> data)
{
    public const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireFixed32 = 5;

    private readonly ReadOnlySpan<byte> data = data;
    private int position;

    public readonly bool AtEnd => position >= data.Length;

    /// <summary>Reads the next field tag; returns the field number and sets <paramref name="wireType"/>.</summary>
    public int ReadTag(out int wireType)
    {
        var tag = ReadVarint();
        wireType = (int)(tag & 7);
        var field = tag >> 3;
        if (field == 0 || field > int.MaxValue) throw new FormatException($"invalid protobuf field number {field} at byte {position}");
        return (int)field;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= data.Length) throw new FormatException("truncated varint");
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new FormatException("varint longer than 10 bytes");
    }

    /// <summary>An <c>int32</c> field: negative values are sign-extended 64-bit varints.</summary>
    public int ReadInt32() => unchecked((int)ReadVarint());

    public bool ReadBool() => ReadVarint() != 0;

    public float ReadFloat()
    {
        var bytes = Take(4);
        return BitConverter.ToSingle(BitConverter.IsLittleEndian ? bytes : [bytes[3], bytes[2], bytes[1], bytes[0]]);
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        var length = ReadVarint();
        if (length > (ulong)(data.Length - position)) throw new FormatException($"length-delimited field of {length} bytes overruns the message");
        return Take((int)length);
    }

    public string ReadString() => new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(ReadBytes());

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case WireVarint: ReadVarint(); break;
            case WireFixed64: Take(8); break;
            case WireLengthDelimited: ReadBytes(); break;
            case WireFixed32: Take(4); break;
            default: throw new FormatException($"unsupported protobuf wire type {wireType}");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > data.Length - position) throw new FormatException("truncated field");
        var slice = data.Slice(position, count);
        position += count;
        return slice;
    }
}

/// <summary>Appends protobuf fields to a buffer (enough to write a small override message).</summary>
internal sealed class ProtoWriter
{
    private readonly List<byte> bytes = [];

    public byte[] ToArray() => [.. bytes];

    public ProtoWriter Int32(int field, int value)
    {
        Varint((ulong)field << 3 | ProtoReader.WireVarint);
        Varint(unchecked((ulong)(long)value));
        return this;
    }

    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Varint((ulong)field << 3 | ProtoReader.WireLengthDelimited);
        Varint((ulong)value.Length);
        foreach (var b in value) bytes.Add(b);
        return this;
    }

    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }
        bytes.Add((byte)value);
    }
}
