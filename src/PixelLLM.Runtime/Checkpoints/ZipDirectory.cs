using System.Text;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>One file of a zip archive, located and bounds-checked: its data is <see cref="CompressedSize"/> bytes at <see cref="DataOffset"/>.</summary>
internal sealed record ZipEntry(string Name, ZipMethod Method, long DataOffset, long CompressedSize, long UncompressedSize);

/// <summary>The two compression methods the reader accepts.</summary>
internal enum ZipMethod : ushort { Stored = 0, Deflated = 8 }

/// <summary>
/// Reads a zip archive's central directory (ZIP64 included) and resolves each entry's data through its local header.
/// We parse it ourselves rather than use <see cref="System.IO.Compression.ZipArchive"/> because zero-copy views need
/// the file offset of each stored entry, which that API does not expose. CRCs are not checked: verifying them would
/// mean reading every weight byte at open time, which is what the memory map avoids.
/// </summary>
internal static class ZipDirectory
{
    private const uint LocalHeaderSignature = 0x04034b50;
    private const uint CentralHeaderSignature = 0x02014b50;
    private const uint EndSignature = 0x06054b50;
    private const uint Zip64EndSignature = 0x06064b50;
    private const uint Zip64LocatorSignature = 0x07064b50;
    private const int EndRecordSize = 22, Zip64LocatorSize = 20, Zip64EndMinSize = 56, CentralHeaderSize = 46, LocalHeaderSize = 30;
    private const uint Overflow32 = 0xFFFFFFFF;

    private static readonly Encoding StrictUtf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);

    /// <summary>Every entry of the archive by name; throws <see cref="ModelFileException"/> naming <paramref name="file"/> if malformed.</summary>
    public static Dictionary<string, ZipEntry> Read(ByteWindow zip, string file)
    {
        var (count, directoryOffset, directorySize) = FindCentralDirectory(zip, file);
        if (directoryOffset > zip.Length || directorySize > zip.Length - directoryOffset)
            throw Bad(file, $"the central directory [{directoryOffset}, +{directorySize}) lies outside the {zip.Length}-byte file");
        if (count > directorySize / CentralHeaderSize)
            throw Bad(file, $"the central directory claims {count} entries but has room for at most {directorySize / CentralHeaderSize}");

        var entries = new Dictionary<string, ZipEntry>((int)Math.Min(count, 1 << 16), StringComparer.Ordinal);
        long at = directoryOffset, end = directoryOffset + directorySize;
        for (long i = 0; i < count; i++)
        {
            var entry = ReadCentralEntry(zip, ref at, end, file, i);
            if (!entries.TryAdd(entry.Name, entry))
                throw Bad(file, $"the archive has two entries named '{entry.Name}'");
        }
        return entries;
    }

    private static (long Count, long Offset, long Size) FindCentralDirectory(ByteWindow zip, string file)
    {
        long end = -1;
        // The end record is the last thing in the file, followed only by its comment (at most 65535 bytes).
        for (long at = zip.Length - EndRecordSize, stop = Math.Max(0, zip.Length - EndRecordSize - 0xFFFF); at >= stop; at--)
        {
            if (zip.U32(at) == EndSignature && at + EndRecordSize + zip.U16(at + 20) == zip.Length) { end = at; break; }
        }
        if (end < 0) throw Bad(file, "no zip end-of-central-directory record (the file is truncated or not a zip archive)");
        if (zip.U16(end + 4) != 0 || zip.U16(end + 6) != 0)
            throw Bad(file, "multi-disk zip archives are not supported");

        long count = zip.U16(end + 10), size = zip.U32(end + 12), offset = zip.U32(end + 16);
        if (count != 0xFFFF && size != Overflow32 && offset != Overflow32) return (count, offset, size);

        long locator = end - Zip64LocatorSize;
        if (locator < 0 || zip.U32(locator) != Zip64LocatorSignature)
            throw Bad(file, "the end record defers to a ZIP64 record, but no ZIP64 locator precedes it");
        ulong zip64End = zip.U64(locator + 8);
        if (locator < Zip64EndMinSize || zip64End > (ulong)(locator - Zip64EndMinSize) || zip.U32((long)zip64End) != Zip64EndSignature)
            throw Bad(file, $"the ZIP64 locator points to offset {zip64End}, where there is no ZIP64 end record");
        long z = (long)zip64End;
        return (Checked64(zip.U64(z + 32), file, "entry count"), Checked64(zip.U64(z + 48), file, "directory offset"),
                Checked64(zip.U64(z + 40), file, "directory size"));
    }

    private static ZipEntry ReadCentralEntry(ByteWindow zip, ref long at, long end, string file, long index)
    {
        if (end - at < CentralHeaderSize || zip.U32(at) != CentralHeaderSignature)
            throw Bad(file, $"central directory entry {index} at offset {at} is missing or has a bad signature");
        int flags = zip.U16(at + 8), method = zip.U16(at + 10);
        long compressed = zip.U32(at + 20), uncompressed = zip.U32(at + 24);
        int nameLength = zip.U16(at + 28), extraLength = zip.U16(at + 30), commentLength = zip.U16(at + 32);
        long localOffset = zip.U32(at + 42);
        if (end - at - CentralHeaderSize < nameLength + extraLength + commentLength)
            throw Bad(file, $"central directory entry {index} runs past the end of the directory");
        var name = DecodeName(zip.Slice(at + CentralHeaderSize, nameLength), file, index);
        var extra = zip.Slice(at + CentralHeaderSize + nameLength, extraLength);
        ApplyZip64Extra(extra, ref uncompressed, ref compressed, ref localOffset, file, name);
        at += CentralHeaderSize + nameLength + extraLength + commentLength;

        if ((flags & 1) != 0) throw Bad(file, $"entry '{name}' is encrypted");
        if (method is not ((int)ZipMethod.Stored or (int)ZipMethod.Deflated))
            throw Bad(file, $"entry '{name}' uses compression method {method}; only stored (0) and deflate (8) are supported");
        if (method == (int)ZipMethod.Stored && compressed != uncompressed)
            throw Bad(file, $"stored entry '{name}' has compressed size {compressed} but uncompressed size {uncompressed}");

        long dataOffset = LocateData(zip, localOffset, file, name);
        if (compressed > zip.Length - dataOffset)
            throw Bad(file, $"entry '{name}' data [{dataOffset}, +{compressed}) runs past the end of the {zip.Length}-byte file");
        return new ZipEntry(name, (ZipMethod)method, dataOffset, compressed, uncompressed);
    }

    /// <summary>Values that do not fit 32 bits are 0xFFFFFFFF in the fixed header and given, in this order, in the ZIP64 extra field.</summary>
    private static void ApplyZip64Extra(ReadOnlySpan<byte> extra, ref long uncompressed, ref long compressed, ref long offset, string file, string name)
    {
        bool needed = uncompressed == Overflow32 || compressed == Overflow32 || offset == Overflow32;
        for (int at = 0; needed && extra.Length - at >= 4;)
        {
            int id = extra[at] | extra[at + 1] << 8, size = extra[at + 2] | extra[at + 3] << 8;
            if (size > extra.Length - at - 4) break;
            if (id == 1)
            {
                var field = extra.Slice(at + 4, size);
                int used = 0;
                if (uncompressed == Overflow32) uncompressed = Field64(field, ref used, file, name);
                if (compressed == Overflow32) compressed = Field64(field, ref used, file, name);
                if (offset == Overflow32) offset = Field64(field, ref used, file, name);
                return;
            }
            at += 4 + size;
        }
        if (needed) throw Bad(file, $"entry '{name}' needs a ZIP64 extra field for its sizes or offset but has none");
    }

    private static long Field64(ReadOnlySpan<byte> field, ref int used, string file, string name)
    {
        if (field.Length - used < 8) throw Bad(file, $"entry '{name}' has a ZIP64 extra field too short for its values");
        long value = Checked64(System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(field[used..]), file, $"ZIP64 value of entry '{name}'");
        used += 8;
        return value;
    }

    private static long LocateData(ByteWindow zip, long localOffset, string file, string name)
    {
        if (localOffset > zip.Length - LocalHeaderSize || zip.U32(localOffset) != LocalHeaderSignature)
            throw Bad(file, $"entry '{name}' points to offset {localOffset}, where there is no local file header");
        return localOffset + LocalHeaderSize + zip.U16(localOffset + 26) + zip.U16(localOffset + 28);
    }

    private static string DecodeName(ReadOnlySpan<byte> bytes, string file, long index)
    {
        try { return StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException) { throw Bad(file, $"the name of zip entry {index} is not valid UTF-8"); }
    }

    private static long Checked64(ulong value, string file, string what) =>
        value <= long.MaxValue ? (long)value : throw Bad(file, $"the {what} {value} is out of range");

    private static ModelFileException Bad(string file, string what) => new($"{file}: not a readable PyTorch zip checkpoint: {what}");
}
