using System.Buffers.Binary;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>
/// A bounds-checked window onto unmanaged bytes (a mapped file), addressed with 64-bit offsets so files over 2 GiB work.
/// Every read checks its range; an out-of-range read is a reader bug and throws <see cref="ArgumentOutOfRangeException"/>.
/// </summary>
internal readonly unsafe struct ByteWindow(byte* start, long length)
{
    public long Length => length;

    public ReadOnlySpan<byte> Slice(long offset, int count) => new(Pointer(offset, count), count);

    /// <summary>The address of [offset, offset + count), after checking that range lies inside the window.</summary>
    public byte* Pointer(long offset, long count)
    {
        if (offset < 0 || count < 0 || offset > length || count > length - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"bytes [{offset}, +{count}) are outside the {length}-byte window");
        return start + offset;
    }

    public ushort U16(long at) => BinaryPrimitives.ReadUInt16LittleEndian(Slice(at, 2));
    public uint U32(long at) => BinaryPrimitives.ReadUInt32LittleEndian(Slice(at, 4));
    public ulong U64(long at) => BinaryPrimitives.ReadUInt64LittleEndian(Slice(at, 8));
}
