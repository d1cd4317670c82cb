using System.Buffers.Binary;
using System.Text;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// ZIP64 archives with entries past 4 GiB, written as sparse files (the hole takes no disk space): real checkpoints
/// such as SAM ViT-H are several GiB, and torch then writes ZIP64 sizes and offsets.
/// </summary>
public class TorchCheckpointLargeFileTests
{
    private const long StorageOffset = (9L << 29) + 64; // 4.5 GiB in, 64-byte aligned like torch's storages

    /// <summary>
    /// A stored archive: data.pkl at 0, storage "0" after a hole at <see cref="StorageOffset"/> (so its central entry
    /// needs a ZIP64 offset), then the central directory, a ZIP64 end record and locator, and an end record whose
    /// directory offset is 0xFFFFFFFF.
    /// </summary>
    private static void WriteZip64(string path, byte[] pickle, byte[] storage, long reportedOffsetShift = 0)
    {
        const long storageOffset = StorageOffset;
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        var pickleName = Encoding.ASCII.GetBytes("archive/data.pkl");
        var storageName = Encoding.ASCII.GetBytes("archive/data/0");
        stream.Write(LocalHeader(pickleName, pickle.Length));
        stream.Write(pickle);
        long storageHeader = storageOffset - 30 - storageName.Length;
        stream.Seek(storageHeader, SeekOrigin.Begin);
        stream.Write(LocalHeader(storageName, storage.Length));
        stream.Write(storage);

        long directoryOffset = stream.Position;
        stream.Write(CentralHeader(pickleName, pickle.Length, 0));
        stream.Write(CentralHeader(storageName, storage.Length, storageHeader + reportedOffsetShift));
        long directorySize = stream.Position - directoryOffset;
        long zip64End = stream.Position;

        var end64 = new byte[56];
        Le32(end64, 0, 0x06064b50); Le64(end64, 4, 44); Le16(end64, 12, 45); Le16(end64, 14, 45);
        Le64(end64, 24, 2); Le64(end64, 32, 2); Le64(end64, 40, directorySize); Le64(end64, 48, directoryOffset);
        stream.Write(end64);
        var locator = new byte[20];
        Le32(locator, 0, 0x07064b50); Le64(locator, 8, zip64End); Le32(locator, 16, 1);
        stream.Write(locator);
        var end = new byte[22];
        Le32(end, 0, 0x06054b50); Le16(end, 8, 2); Le16(end, 10, 2); Le32(end, 12, (uint)directorySize); Le32(end, 16, 0xFFFFFFFF);
        stream.Write(end);
    }

    private static byte[] LocalHeader(byte[] name, int size)
    {
        var header = new byte[30 + name.Length];
        Le32(header, 0, 0x04034b50); Le16(header, 4, 45); Le32(header, 18, (uint)size); Le32(header, 22, (uint)size);
        Le16(header, 26, (ushort)name.Length);
        name.CopyTo(header, 30);
        return header;
    }

    private static byte[] CentralHeader(byte[] name, int size, long localOffset)
    {
        bool zip64 = localOffset >= uint.MaxValue;
        var header = new byte[46 + name.Length + (zip64 ? 12 : 0)];
        Le32(header, 0, 0x02014b50); Le16(header, 4, 45); Le16(header, 6, 45); Le32(header, 20, (uint)size); Le32(header, 24, (uint)size);
        Le16(header, 28, (ushort)name.Length); Le16(header, 30, (ushort)(zip64 ? 12 : 0));
        Le32(header, 42, zip64 ? 0xFFFFFFFF : (uint)localOffset);
        name.CopyTo(header, 46);
        if (zip64)
        {
            Le16(header, 46 + name.Length, 1); Le16(header, 48 + name.Length, 8); Le64(header, 50 + name.Length, localOffset);
        }
        return header;
    }

    private static void Le16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);
    private static void Le32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    private static void Le64(byte[] b, int at, long v) => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(at), v);

    [Fact]
    public void StoragesPastFourGiBAreViewedInPlaceThroughZip64Records()
    {
        using var dir = new TempDirectory();
        var path = dir.File("big.pth");
        WriteZip64(path, PickleBuilder.OneTensor(6, 2, [2, 2], [2, 1]).Stop().ToArray(), TorchZip.CountingFloats(6)["0"]);

        using var checkpoint = TorchCheckpoint.Open(path);
        var w = checkpoint.Get("w");
        Assert.Equal(new[] { 2f, 3f, 4f, 5f }, w.AsSpan<float>().ToArray());
        Assert.False(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(w.Data, out _), "expected a view into the mapping");

        // The same layout read through the strided (copying) path: the transpose.
        var transposed = dir.File("big_t.pth");
        WriteZip64(transposed, PickleBuilder.OneTensor(6, 2, [2, 2], [1, 2]).Stop().ToArray(), TorchZip.CountingFloats(6)["0"]);
        using var t = TorchCheckpoint.Open(transposed);
        Assert.Equal(new[] { 2f, 4f, 3f, 5f }, t.Get("w").AsSpan<float>().ToArray());
    }

    [Fact]
    public void Zip64OffsetsPointingPastTheFileAreRejected()
    {
        using var dir = new TempDirectory();
        var path = dir.File("big.pth");
        WriteZip64(path, PickleBuilder.OneTensor(6, 0, [6], [1]).Stop().ToArray(), TorchZip.CountingFloats(6)["0"], reportedOffsetShift: 1L << 33);
        var error = Assert.Throws<ModelFileException>(() => TorchCheckpoint.Open(path).Dispose());
        Assert.Contains("big.pth", error.Message);
        Assert.Contains("'archive/data/0' points to offset", error.Message);
    }
}
