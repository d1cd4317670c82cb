using System.Buffers.Binary;
using System.Text;

namespace PixelLLM.Tests.Support;

/// <summary>
/// Writes msgpack bytes for tests, written from the msgpack spec independently of the reader under test. Formats are
/// the smallest that fit (as msgpack-python writes them) unless a length-field width is forced. It records where
/// every header starts and where every length field lies, the targets of the fuzz test's mutations.
/// </summary>
internal sealed class MsgPackBuilder
{
    private readonly MemoryStream bytes = new();

    /// <summary>Offsets of every header's first byte.</summary>
    public List<int> HeaderOffsets { get; } = [];

    /// <summary>(offset, width) of every big-endian length or count field.</summary>
    public List<(int Offset, int Width)> LengthFields { get; } = [];

    public int Length => (int)bytes.Length;
    public byte[] ToArray() => bytes.ToArray();

    /// <summary>A map header; <paramref name="width"/> 0 = fixmap, 2 = map16, 4 = map32, -1 = smallest.</summary>
    public MsgPackBuilder Map(long count, int width = -1) => Container(count, width, fix: 0x80, w16: 0xDE, w32: 0xDF);

    /// <summary>An array header; <paramref name="width"/> 0 = fixarray, 2 = array16, 4 = array32, -1 = smallest.</summary>
    public MsgPackBuilder Array(long count, int width = -1) => Container(count, width, fix: 0x90, w16: 0xDC, w32: 0xDD);

    /// <summary>A UTF-8 string; <paramref name="width"/> 0 = fixstr, 1 = str8, 2 = str16, 4 = str32, -1 = smallest.</summary>
    public MsgPackBuilder Str(string text, int width = -1) => StrBytes(Encoding.UTF8.GetBytes(text), width);

    public MsgPackBuilder StrBytes(byte[] utf8, int width = -1)
    {
        if (width < 0) width = utf8.Length < 32 ? 0 : utf8.Length < 256 ? 1 : utf8.Length < 65536 ? 2 : 4;
        Header(width switch { 0 => (byte)(0xA0 | utf8.Length), 1 => 0xD9, 2 => 0xDA, _ => 0xDB });
        if (width > 0) LengthField(utf8.Length, width);
        return Raw(utf8);
    }

    /// <summary>A bin; <paramref name="width"/> 1 = bin8, 2 = bin16, 4 = bin32, -1 = smallest.</summary>
    public MsgPackBuilder Bin(byte[] data, int width = -1) => BinHeader(data.Length, width).Raw(data);

    public MsgPackBuilder BinHeader(long length, int width = -1)
    {
        if (width < 0) width = length < 256 ? 1 : length < 65536 ? 2 : 4;
        Header(width switch { 1 => 0xC4, 2 => 0xC5, _ => 0xC6 });
        return LengthField(length, width);
    }

    /// <summary>An ext value: fixext for payloads of 1/2/4/8/16 bytes, else ext8/16/32 (or the forced <paramref name="width"/>).</summary>
    public MsgPackBuilder Ext(sbyte type, byte[] payload, int width = -1) => ExtHeader(type, payload.Length, width).Raw(payload);

    public MsgPackBuilder ExtHeader(sbyte type, long length, int width = -1)
    {
        int fix = length switch { 1 => 0xD4, 2 => 0xD5, 4 => 0xD6, 8 => 0xD7, 16 => 0xD8, _ => 0 };
        if (width < 0 && fix != 0) { Header((byte)fix); return Raw([(byte)type]); }
        if (width < 0) width = length < 256 ? 1 : length < 65536 ? 2 : 4;
        Header(width switch { 1 => 0xC7, 2 => 0xC8, _ => 0xC9 });
        LengthField(length, width);
        return Raw([(byte)type]);
    }

    /// <summary>An integer: positive fixint / uint8..64 for non-negative values, negative fixint / int8..64 otherwise.</summary>
    public MsgPackBuilder Int(long value)
    {
        if (value >= 0) return UInt((ulong)value);
        if (value >= -32) return Header((byte)(sbyte)value);
        if (value >= sbyte.MinValue) return Header(0xD0).Raw([(byte)(sbyte)value]);
        if (value >= short.MinValue) return Header(0xD1).BigEndian((ulong)(short)value, 2);
        if (value >= int.MinValue) return Header(0xD2).BigEndian((ulong)(int)value, 4);
        return Header(0xD3).BigEndian((ulong)value, 8);
    }

    public MsgPackBuilder UInt(ulong value) =>
        value < 128 ? Header((byte)value)
        : value <= byte.MaxValue ? Header(0xCC).Raw([(byte)value])
        : value <= ushort.MaxValue ? Header(0xCD).BigEndian(value, 2)
        : value <= uint.MaxValue ? Header(0xCE).BigEndian(value, 4)
        : Header(0xCF).BigEndian(value, 8);

    public MsgPackBuilder Nil() => Header(0xC0);
    public MsgPackBuilder Bool(bool value) => Header(value ? (byte)0xC3 : (byte)0xC2);

    public MsgPackBuilder Float64(double value)
    {
        Header(0xCB);
        return BigEndian((ulong)BitConverter.DoubleToInt64Bits(value), 8);
    }

    public MsgPackBuilder Float32(float value)
    {
        Header(0xCA);
        return BigEndian(BitConverter.SingleToUInt32Bits(value), 4);
    }

    /// <summary>Bytes written as they are (no header is recorded).</summary>
    public MsgPackBuilder Raw(ReadOnlySpan<byte> data)
    {
        bytes.Write(data);
        return this;
    }

    private MsgPackBuilder Container(long count, int width, byte fix, byte w16, byte w32)
    {
        if (width < 0) width = count < 16 ? 0 : count < 65536 ? 2 : 4;
        if (width == 0) return Header((byte)(fix | count));
        Header(width == 2 ? w16 : w32);
        return LengthField(count, width);
    }

    private MsgPackBuilder Header(byte first)
    {
        HeaderOffsets.Add(Length);
        bytes.WriteByte(first);
        return this;
    }

    private MsgPackBuilder LengthField(long value, int width)
    {
        LengthFields.Add((Length, width));
        return BigEndian((ulong)value, width);
    }

    private MsgPackBuilder BigEndian(ulong value, int width)
    {
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(buffer, value);
        return Raw(buffer[(8 - width)..]);
    }
}
