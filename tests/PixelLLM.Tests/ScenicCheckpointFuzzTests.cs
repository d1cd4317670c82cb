using System.Buffers.Binary;
using System.Diagnostics;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests;

/// <summary>
/// Truncations and seeded mutations of valid checkpoints: each must either open with every tensor a view inside the
/// file showing the file's bytes, or be rejected with <see cref="ScenicCheckpointException"/>. Any other exception,
/// an out-of-bounds view or a hang fails.
/// </summary>
public class ScenicCheckpointFuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 4000;
    private static readonly TimeSpan TimeLimit = TimeSpan.FromMinutes(3); // generous: the loop takes seconds

    /// <summary>A seed file and what the mutator knows about it (header and length-field offsets; empty for a golden file).</summary>
    private sealed record Seed(string Name, byte[] Bytes, int[] Headers, (int Offset, int Width)[] LengthFields);

    private static Seed SampleSeed()
    {
        var (bytes, layout) = ScenicCheckpointSamples.TrainStateBytes();
        return new Seed("sample", bytes, [.. layout.HeaderOffsets], [.. layout.LengthFields]);
    }

    private static Seed GoldenSeed() =>
        new("tiny_t5", File.ReadAllBytes(Path.Combine(Golden.Root, "pixelllm", "tiny_t5.scenic.msgpack")), [], []);

    [Fact]
    public async Task SeededMutationsEitherOpenCleanlyOrThrowScenicCheckpointException()
    {
        using var dir = new TempDirectory();
        var sample = SampleSeed();
        var golden = GoldenSeed();
        var path = dir.File("mutant.msgpack");
        var (opened, rejected, failures, elapsed) = await MutationFuzz.RunAsync<ScenicCheckpointException>(path, Iterations, 20240612, TimeLimit,
            (i, rng) =>
            {
                var seed = i % 10 == 9 ? golden : sample; // the golden file is large; mutate it less often
                var (bytes, description) = Mutate(seed, rng);
                return (bytes, $"{seed.Name}: {description}");
            },
            ReadEverything);
        output.WriteLine($"{Iterations} mutants: {opened} opened, {rejected} rejected, {elapsed.TotalSeconds:F1} s");
        Assert.Empty(failures);
        // Both outcomes must be common, or the mutations are not exercising the reader.
        Assert.True(opened > Iterations / 20, $"only {opened} of {Iterations} mutants opened");
        Assert.True(rejected > Iterations / 4, $"only {rejected} of {Iterations} mutants rejected");
    }

    [Fact]
    public void EveryTruncationOfTheSampleIsRejected()
    {
        using var dir = new TempDirectory();
        var sample = SampleSeed().Bytes;
        var path = dir.File("truncated.msgpack");
        // The top-level map must hold all its entries, so every strict prefix is incomplete.
        for (int length = 0; length < sample.Length; length++)
        {
            File.WriteAllBytes(path, sample[..length]);
            Assert.Throws<ScenicCheckpointException>(() => ScenicCheckpoint.Open(path).Dispose());
        }
    }

    [Fact]
    public void TruncationsOfTheGoldenAreRejectedWithTheirTreePath()
    {
        using var dir = new TempDirectory();
        var golden = GoldenSeed().Bytes;
        var path = dir.File("truncated.msgpack");
        var rng = new Random(5);
        int inParams = 0;
        for (int i = 0; i < 300; i++)
        {
            int length = rng.Next(golden.Length);
            File.WriteAllBytes(path, golden[..length]);
            var e = Assert.Throws<ScenicCheckpointException>(() => ScenicCheckpoint.Open(path).Dispose());
            Assert.Contains(path, e.Message);
            if (e.Message.Contains("at params/", StringComparison.Ordinal) && inParams++ < 3) output.WriteLine(e.Message);
        }
        // opt_state precedes params in the file; cuts past it must name the parameter whose bytes were lost.
        Assert.True(inParams > 100, $"only {inParams} of 300 truncation errors name a path under params/");
    }

    /// <summary>Opens the file and reads every tensor, checking each view lies inside the file and shows its bytes.</summary>
    private static void ReadEverything(string path, byte[] bytes)
    {
        using var checkpoint = ScenicCheckpoint.Open(path);
        foreach (var name in checkpoint.Names)
        {
            var tensor = checkpoint.Get(name);
            Assert.Equal(tensor.Desc.ByteSize, tensor.Data.Length);
            Assert.Equal(tensor.Desc, checkpoint.Describe(name));
            if (checkpoint.FileRange(name) is var (offset, length))
            {
                if (offset < 0 || offset + length > bytes.Length || length != tensor.Data.Length)
                    throw new InvalidOperationException($"tensor '{name}' range [{offset}, {offset + length}) escapes a {bytes.Length}-byte file");
                if (!tensor.Data.Span.SequenceEqual(bytes.AsSpan((int)offset, (int)length)))
                    throw new InvalidOperationException($"tensor '{name}' view does not show the file's bytes at {offset}");
            }
            Assert.Equal(tensor.Desc.ElementCount, tensor.ToFloatArray().Length);
        }
    }

    private static (byte[] Bytes, string Description) Mutate(Seed seed, Random rng)
    {
        var bytes = seed.Bytes;
        var steps = new List<string>();
        int count = rng.Next(4) == 0 ? rng.Next(2, 4) : 1;
        for (int s = 0; s < count; s++)
        {
            // Offsets recorded for the seed stay meaningful only until the first mutation that moves bytes.
            var (next, what) = MutateOnce(bytes, bytes.Length == seed.Bytes.Length ? seed : seed with { Headers = [], LengthFields = [] }, rng);
            bytes = next;
            steps.Add(what);
        }
        return (bytes, string.Join(" + ", steps));
    }

    private static (byte[], string) MutateOnce(byte[] bytes, Seed layout, Random rng)
    {
        if (bytes.Length == 0) return (bytes, "nothing left to mutate");
        int Target() => layout.Headers.Length > 0 && rng.Next(4) != 0 ? layout.Headers[rng.Next(layout.Headers.Length)] : rng.Next(bytes.Length);
        switch (rng.Next(7))
        {
            case 0:
            {
                int length = rng.Next(bytes.Length + 1);
                return (bytes[..length], $"truncate to {length}");
            }
            case 1:
            {
                var copy = (byte[])bytes.Clone();
                int at = Target();
                copy[at] ^= (byte)(1 << rng.Next(8));
                return (copy, $"flip a bit at {at}");
            }
            case 2:
            {
                var copy = (byte[])bytes.Clone();
                int at = Target();
                copy[at] = (byte)rng.Next(256);
                return (copy, $"random byte at {at}");
            }
            case 3:
                return ReplaceLength(bytes, layout, rng);
            case 4:
            {
                int at = Target();
                var garbage = new byte[rng.Next(1, 9)];
                rng.NextBytes(garbage);
                return ([.. bytes[..at], .. garbage, .. bytes[at..]], $"splice {garbage.Length} bytes at {at}");
            }
            case 5:
            {
                int from = Target();
                int to = Math.Min(bytes.Length, from + rng.Next(1, 9));
                return ([.. bytes[..from], .. bytes[to..]], $"delete [{from}, {to})");
            }
            default:
            {
                // Swap two header bytes: type confusion (a map where a string was, an ext where a map was, ...).
                var copy = (byte[])bytes.Clone();
                int a = Target(), b = Target();
                (copy[a], copy[b]) = (copy[b], copy[a]);
                return (copy, $"swap bytes {a} and {b}");
            }
        }
    }

    /// <summary>Sets a recorded length or count field to an extreme or nearby value.</summary>
    private static (byte[], string) ReplaceLength(byte[] bytes, Seed layout, Random rng)
    {
        if (layout.LengthFields.Length == 0) return (bytes, "no length field known");
        var (offset, width) = layout.LengthFields[rng.Next(layout.LengthFields.Length)];
        var field = bytes.AsSpan(offset, width);
        ulong current = width == 1 ? field[0] : width == 2 ? BinaryPrimitives.ReadUInt16BigEndian(field) : BinaryPrimitives.ReadUInt32BigEndian(field);
        ulong max = width == 1 ? byte.MaxValue : width == 2 ? ushort.MaxValue : uint.MaxValue;
        ulong value = rng.Next(5) switch
        {
            0 => 0,
            1 => max,
            2 => (ulong)rng.NextInt64((long)max + 1),
            _ => (ulong)Math.Clamp((long)current + rng.Next(-3, 4), 0, (long)max),
        };
        var copy = (byte[])bytes.Clone();
        Span<byte> big = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(big, value);
        big[(8 - width)..].CopyTo(copy.AsSpan(offset, width));
        return (copy, $"length field at {offset} ({width} bytes): {current} -> {value}");
    }
}
