using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// Offsets past 2 and 4 GiB, with sparse files (the holes are never written, so they take no disk space): a real
/// T5-XL checkpoint is ~15 GB and its opt_state alone is gigabytes.
/// </summary>
public class ScenicCheckpointLargeFileTests
{
    /// <summary>Writes the segments in order, leaving a hole of each segment's <c>HoleAfter</c> bytes after it.</summary>
    private static void WriteSparse(string path, params (byte[] Bytes, long HoleAfter)[] segments)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        foreach (var (bytes, hole) in segments)
        {
            stream.Write(bytes);
            stream.Seek(hole, SeekOrigin.Current);
        }
        stream.SetLength(stream.Position);
    }

    [Fact]
    public void ParamsAfterFiveGiBOfOptStateAreViewedInPlace()
    {
        const long hugeMoment = uint.MaxValue - 16; // the largest ext32 payload, stepped over unread
        const long secondMoment = 1L << 30;
        var kernel = NdArray.Random(new Random(3), "float32", 3, 4);
        var head = new MsgPackBuilder().Map(2).Str("opt_state").Map(2).Str("mu").ExtHeader(1, hugeMoment, 4);
        var middle = new MsgPackBuilder().Str("nu").ExtHeader(1, secondMoment, 4);
        var tail = new MsgPackBuilder().Str("params").Map(1).Str("dense").Map(1).Str("kernel");
        FlaxStateWriter.Write(tail, kernel);

        using var dir = new TempDirectory();
        var path = dir.File("checkpoint_5g");
        WriteSparse(path, (head.ToArray(), hugeMoment), (middle.ToArray(), secondMoment), (tail.ToArray(), 0));
        using var checkpoint = ScenicCheckpoint.Open(path);

        var (offset, length) = checkpoint.FileRange("dense/kernel")!.Value;
        Assert.True(offset > hugeMoment + secondMoment, $"kernel at {offset}");
        Assert.Equal(48, length);
        Assert.True(kernel.Data.AsSpan().SequenceEqual(checkpoint.Get("dense/kernel").Data.Span));
    }

    [Fact]
    public void ArrayOverTwoGiBIsRejectedNotTruncated()
    {
        const long dataBytes = 1L << 31; // uint8 (2, 2^30): one byte more than a Memory<byte> can span
        var payload = new MsgPackBuilder().Array(3).Array(2).Int(2).Int(1 << 30).Str("uint8").BinHeader(dataBytes, 4);
        var head = new MsgPackBuilder().Map(1).Str("params").Map(1).Str("big").ExtHeader(1, payload.Length + dataBytes, 4).Raw(payload.ToArray());

        using var dir = new TempDirectory();
        var path = dir.File("checkpoint_2g");
        WriteSparse(path, (head.ToArray(), dataBytes));
        var e = Assert.Throws<ScenicCheckpointException>(() => ScenicCheckpoint.Open(path).Dispose());
        Assert.Contains("at params/big:", e.Message);
        Assert.Contains("over the 2 GiB", e.Message);
    }
}
