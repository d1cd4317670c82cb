using System.IO.Compression;

namespace PixelLLM.Runtime.Checkpoints;

/// <summary>Decompresses deflated zip entries (torch never writes them, but archives re-packed by other tools have them).</summary>
internal static class ZipInflater
{
    // Deflate cannot expand data by more than about 1032:1, so a larger claimed size is corrupt; checking it first
    // keeps a damaged size field from allocating gigabytes.
    private const long MaxDeflateRatio = 1032;

    public static unsafe byte[] Inflate(ByteWindow file, ZipEntry entry, string path)
    {
        string Where() => $"{path}: deflated entry '{entry.Name}'";
        if (entry.UncompressedSize > Array.MaxLength)
            throw new ModelFileException($"{Where()} is {entry.UncompressedSize} bytes uncompressed, over the 2 GiB limit for compressed entries");
        if (entry.UncompressedSize > entry.CompressedSize * MaxDeflateRatio + 1024)
            throw new ModelFileException($"{Where()} claims {entry.UncompressedSize} bytes from {entry.CompressedSize} compressed bytes, more than deflate can produce");

        var result = new byte[entry.UncompressedSize];
        try
        {
            using var compressed = new UnmanagedMemoryStream(file.Pointer(entry.DataOffset, entry.CompressedSize), entry.CompressedSize);
            using var inflater = new DeflateStream(compressed, CompressionMode.Decompress);
            int filled = 0;
            while (filled < result.Length)
            {
                int read = inflater.Read(result, filled, result.Length - filled);
                if (read == 0) break;
                filled += read;
            }
            if (filled != result.Length || inflater.Read(stackalloc byte[1]) != 0)
                throw new ModelFileException($"{Where()} inflates to {(filled != result.Length ? filled : "more than")} bytes; its header says {result.Length}");
        }
        catch (InvalidDataException e)
        {
            throw new ModelFileException($"{Where()} is not valid deflate data ({e.Message})", e);
        }
        return result;
    }
}
