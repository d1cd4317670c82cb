using System.Buffers.Binary;
using System.Text;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>
/// A strict, allocation-free msgpack tokenizer over a window [begin, end) of unmanaged memory (a mapped file), with
/// 64-bit offsets so files past 2 GiB work. Every length is checked against the bytes left in the window before it
/// is used, so a corrupt length fails here instead of reading past the end; nothing is copied.
/// </summary>
internal sealed unsafe partial class MsgPackReader
{
    /// <summary>Nesting deeper than this is rejected (Flax train states are ~12 levels deep).</summary>
    public const int MaxDepth = 64;

    /// <summary>Longer strings are rejected before decoding: checkpoint keys and dtype names are short.</summary>
    public const int MaxStringBytes = 64 * 1024;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte* basePointer;
    private readonly long end;

    /// <param name="basePointer">Start of the whole buffer; offsets (and error messages) are relative to it.</param>
    /// <param name="begin">First offset this reader may read.</param>
    /// <param name="end">One past the last offset this reader may read.</param>
    public MsgPackReader(byte* basePointer, long begin, long end)
    {
        this.basePointer = basePointer;
        this.end = end;
        Position = begin;
    }

    /// <summary>Offset of the next header to read.</summary>
    public long Position { get; set; }

    public long End => end;
    public long Remaining => end - Position;

    /// <summary>A reader confined to the payload of a str, bin or ext token (e.g. an ndarray's packed header).</summary>
    public MsgPackReader Payload(in MsgPackToken token) => new(basePointer, token.PayloadOffset, token.PayloadOffset + token.Length);

    /// <summary>Pointer to offset <paramref name="offset"/> of the buffer.</summary>
    public byte* Pointer(long offset) => basePointer + offset;

    /// <summary>Decodes the next header and steps past it (and past the payload of a str, bin or ext).</summary>
    public MsgPackToken Read()
    {
        long at = Position;
        if (Remaining <= 0)
            throw new CheckpointFormatError("the data ends where a msgpack value should start", at);
        byte b = Take(1, at)[0];
        return b switch
        {
            <= 0x7F => Scalar(MsgPackKind.Int, at, b),
            >= 0xE0 => Scalar(MsgPackKind.Int, at, (sbyte)b),
            >= 0x80 and <= 0x8F => Container(MsgPackKind.Map, at, b & 0x0F),
            >= 0x90 and <= 0x9F => Container(MsgPackKind.Array, at, b & 0x0F),
            >= 0xA0 and <= 0xBF => Blob(MsgPackKind.Str, at, b & 0x1F),
            0xC0 => Scalar(MsgPackKind.Nil, at, 0),
            0xC1 => throw new CheckpointFormatError("byte 0xc1 is never used in msgpack", at),
            0xC2 => Scalar(MsgPackKind.Bool, at, 0),
            0xC3 => Scalar(MsgPackKind.Bool, at, 1),
            0xC4 => Blob(MsgPackKind.Bin, at, Take(1, at)[0]),
            0xC5 => Blob(MsgPackKind.Bin, at, BinaryPrimitives.ReadUInt16BigEndian(Take(2, at))),
            0xC6 => Blob(MsgPackKind.Bin, at, BinaryPrimitives.ReadUInt32BigEndian(Take(4, at))),
            0xC7 => Ext(at, Take(1, at)[0]),
            0xC8 => Ext(at, BinaryPrimitives.ReadUInt16BigEndian(Take(2, at))),
            0xC9 => Ext(at, BinaryPrimitives.ReadUInt32BigEndian(Take(4, at))),
            0xCA => Scalar(MsgPackKind.Float, at, BitConverter.DoubleToInt64Bits(BinaryPrimitives.ReadSingleBigEndian(Take(4, at)))),
            0xCB => Scalar(MsgPackKind.Float, at, BinaryPrimitives.ReadInt64BigEndian(Take(8, at))),
            0xCC => Scalar(MsgPackKind.UInt, at, Take(1, at)[0]),
            0xCD => Scalar(MsgPackKind.UInt, at, BinaryPrimitives.ReadUInt16BigEndian(Take(2, at))),
            0xCE => Scalar(MsgPackKind.UInt, at, BinaryPrimitives.ReadUInt32BigEndian(Take(4, at))),
            0xCF => Scalar(MsgPackKind.UInt, at, BinaryPrimitives.ReadInt64BigEndian(Take(8, at))),
            0xD0 => Scalar(MsgPackKind.Int, at, (sbyte)Take(1, at)[0]),
            0xD1 => Scalar(MsgPackKind.Int, at, BinaryPrimitives.ReadInt16BigEndian(Take(2, at))),
            0xD2 => Scalar(MsgPackKind.Int, at, BinaryPrimitives.ReadInt32BigEndian(Take(4, at))),
            0xD3 => Scalar(MsgPackKind.Int, at, BinaryPrimitives.ReadInt64BigEndian(Take(8, at))),
            0xD4 => Ext(at, 1),
            0xD5 => Ext(at, 2),
            0xD6 => Ext(at, 4),
            0xD7 => Ext(at, 8),
            0xD8 => Ext(at, 16),
            0xD9 => Blob(MsgPackKind.Str, at, Take(1, at)[0]),
            0xDA => Blob(MsgPackKind.Str, at, BinaryPrimitives.ReadUInt16BigEndian(Take(2, at))),
            0xDB => Blob(MsgPackKind.Str, at, BinaryPrimitives.ReadUInt32BigEndian(Take(4, at))),
            0xDC => Container(MsgPackKind.Array, at, BinaryPrimitives.ReadUInt16BigEndian(Take(2, at))),
            0xDD => Container(MsgPackKind.Array, at, BinaryPrimitives.ReadUInt32BigEndian(Take(4, at))),
            0xDE => Container(MsgPackKind.Map, at, BinaryPrimitives.ReadUInt16BigEndian(Take(2, at))),
            0xDF => Container(MsgPackKind.Map, at, BinaryPrimitives.ReadUInt32BigEndian(Take(4, at))),
        };
    }

    /// <summary>Reads the next value, which must be a string, as text (strict UTF-8).</summary>
    public string ReadString(string what)
    {
        var token = Read();
        if (token.Kind != MsgPackKind.Str)
            throw new CheckpointFormatError($"{what} must be a string, found {token.Describe()}", token.Offset);
        return DecodeString(token);
    }

    /// <summary>The text of a str token.</summary>
    public string DecodeString(in MsgPackToken token)
    {
        if (token.Length > MaxStringBytes)
            throw new CheckpointFormatError($"a string of {token.Length} bytes is over the {MaxStringBytes}-byte limit for keys and names", token.Offset);
        try
        {
            return StrictUtf8.GetString(basePointer + token.PayloadOffset, (int)token.Length);
        }
        catch (DecoderFallbackException)
        {
            throw new CheckpointFormatError("a string is not valid UTF-8", token.Offset);
        }
    }

    /// <summary>The next <paramref name="count"/> bytes after the header byte at <paramref name="header"/>.</summary>
    private ReadOnlySpan<byte> Take(int count, long header)
    {
        if (Remaining < count)
            throw new CheckpointFormatError(
                $"the data ends inside a msgpack header ({count} more bytes needed, {Remaining} left)", header);
        var span = new ReadOnlySpan<byte>(basePointer + Position, count);
        Position += count;
        return span;
    }

    private MsgPackToken Scalar(MsgPackKind kind, long at, long bits) => new(kind, at, 0, bits, 0, 0);

    private MsgPackToken Container(MsgPackKind kind, long at, long count)
    {
        // Every element takes at least one byte (a map entry two), so a count the remaining bytes cannot hold is corrupt.
        long minimumBytes = kind == MsgPackKind.Map ? 2 * count : count;
        if (minimumBytes > Remaining)
            throw new CheckpointFormatError(
                $"{(kind == MsgPackKind.Map ? "a map claims" : "an array claims")} {count} {(kind == MsgPackKind.Map ? "entries" : "elements")} " +
                $"but only {Remaining} bytes remain", at);
        return new MsgPackToken(kind, at, count, 0, 0, 0);
    }

    private MsgPackToken Blob(MsgPackKind kind, long at, long length)
    {
        if (length > Remaining)
            throw new CheckpointFormatError(
                $"a {(kind == MsgPackKind.Str ? "string" : "bin")} of {length} bytes runs past the end of the data ({Remaining} bytes left)", at);
        var token = new MsgPackToken(kind, at, length, 0, 0, Position);
        Position += length;
        return token;
    }

    private MsgPackToken Ext(long at, long length)
    {
        sbyte type = (sbyte)Take(1, at)[0];
        if (length > Remaining)
            throw new CheckpointFormatError(
                $"an ext value (type {type}) of {length} bytes runs past the end of the data ({Remaining} bytes left)", at);
        var token = new MsgPackToken(MsgPackKind.Ext, at, length, 0, type, Position);
        Position += length;
        return token;
    }
}
