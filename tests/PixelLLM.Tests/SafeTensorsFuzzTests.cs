using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests;

/// <summary>
/// Seeded mutations of valid files: each must either open with every tensor fully readable inside the file, or be
/// rejected with <see cref="SafeTensorsException"/>. Any other exception, an out-of-bounds range or a hang fails.
/// </summary>
public partial class SafeTensorsFuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 4000;
    private static readonly TimeSpan TimeLimit = TimeSpan.FromMinutes(3); // generous: the loop takes seconds

    private static readonly string[] HugeNumbers =
    [
        "0", "1", "7", "2147483647", "2147483648", "4294967295", "4294967296", "9007199254740993",
        "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616",
        "100000000000000000000000000000", "-1", "-9223372036854775808", "1e3", "1.5", "100000000",
    ];

    [GeneratedRegex("-?[0-9]+")]
    private static partial Regex NumberToken();

    private static byte[] WriterSample(TempDirectory dir)
    {
        var path = dir.File("sample.safetensors");
        var rng = new Random(99);
        HostTensor Random(DType dtype, params int[] shape)
        {
            var t = HostTensor.Zeros(dtype, shape);
            rng.NextBytes(t.Data.Span);
            return t;
        }
        SafeTensorsWriter.Write(path,
        [
            new("a", Random(DType.F32, 2, 3)), new("b", Random(DType.U8, 5)), new("c", Random(DType.F16, 3)),
            new("empty", Random(DType.I64, 4, 0)), new("d", Random(DType.BF16, 2, 2)), new("s", Random(DType.I32)),
            new("e", Random(DType.I64, 3)),
        ], new Dictionary<string, string> { ["component"] = "fuzz", ["note"] = "x" });
        return File.ReadAllBytes(path);
    }

    [Fact]
    public async Task SeededMutationsEitherOpenCleanlyOrThrowSafeTensorsException()
    {
        using var dir = new TempDirectory();
        var seeds = new[] { WriterSample(dir), File.ReadAllBytes(Path.Combine(Golden.Root, "t5", "cfgA.io.safetensors")) };
        var path = dir.File("mutant.safetensors");
        var (opened, rejected, failures, elapsed) = await MutationFuzz.RunAsync<SafeTensorsException>(path, Iterations, 20240611, TimeLimit,
            (i, rng) => Mutate(seeds[i % seeds.Length], rng), ReadEverything);
        output.WriteLine($"{Iterations} mutants: {opened} opened, {rejected} rejected, {elapsed.TotalSeconds:F1} s");
        Assert.Empty(failures);
        // Both outcomes must be common, or the mutations are not exercising the validator.
        Assert.True(opened > Iterations / 20, $"only {opened} of {Iterations} mutants opened");
        Assert.True(rejected > Iterations / 4, $"only {rejected} of {Iterations} mutants rejected");
    }

    [Fact]
    public void EveryTruncationIsRejected()
    {
        using var dir = new TempDirectory();
        var sample = WriterSample(dir);
        var path = dir.File("truncated.safetensors");
        // The sample's last tensor in data order is non-empty, so any strict prefix loses header or data bytes.
        for (int length = 0; length < sample.Length; length++)
        {
            File.WriteAllBytes(path, sample[..length]);
            Assert.Throws<SafeTensorsException>(() => SafeTensorsFile.Open(path).Dispose());
        }
    }

    /// <summary>Opens the file and reads every tensor through the view, checking it lies inside the file's bytes.</summary>
    private static void ReadEverything(string path, byte[] bytes)
    {
        using var file = SafeTensorsFile.Open(path);
        foreach (var (key, value) in file.Metadata) Assert.NotNull(key + value);
        foreach (var name in file.Names)
        {
            var tensor = file[name];
            var (offset, length) = file.FileRange(name);
            if (offset < 8 || offset + length > bytes.Length || length != tensor.Data.Length || length != tensor.Desc.ByteSize)
                throw new InvalidOperationException($"tensor '{name}' range [{offset}, {offset + length}) escapes a {bytes.Length}-byte file");
            if (!tensor.Data.Span.SequenceEqual(bytes.AsSpan((int)offset, (int)length)))
                throw new InvalidOperationException($"tensor '{name}' view does not show the file's bytes at {offset}");
            Assert.Equal(tensor.Desc.ElementCount, file.Load(name, DType.F32).Desc.ElementCount);
        }
    }

    private static (byte[] Bytes, string Description) Mutate(byte[] seed, Random rng)
    {
        var bytes = seed;
        var steps = new List<string>();
        int count = rng.Next(4) == 0 ? rng.Next(2, 4) : 1;
        for (int s = 0; s < count; s++)
        {
            var (next, what) = MutateOnce(bytes, rng);
            bytes = next;
            steps.Add(what);
        }
        return (bytes, string.Join(" + ", steps));
    }

    private static (byte[], string) MutateOnce(byte[] bytes, Random rng)
    {
        int headerEnd = HeaderEnd(bytes);
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
                int flips = rng.Next(1, 5);
                for (int f = 0; f < flips && headerEnd > 8; f++) copy[rng.Next(8, headerEnd)] ^= (byte)(1 << rng.Next(8));
                return (copy, $"flip {flips} header bits");
            }
            case 2:
            {
                var copy = (byte[])bytes.Clone();
                int at = rng.Next(Math.Min(8, copy.Length + 1));
                if (at < copy.Length) copy[at] = (byte)rng.Next(256);
                return (copy, $"length prefix byte {at}");
            }
            case 3:
            {
                int at = rng.Next(Math.Min(headerEnd, bytes.Length) + 1);
                var garbage = new byte[rng.Next(1, 17)];
                rng.NextBytes(garbage);
                var spliced = bytes[..at].Concat(garbage).Concat(bytes[at..]).ToArray();
                if (rng.Next(2) == 0) AdjustPrefix(spliced, garbage.Length);
                return (spliced, $"splice {garbage.Length} bytes at {at}");
            }
            case 4:
                return ReplaceNumber(bytes, rng);
            case 5:
            {
                int from = rng.Next(8, Math.Max(9, headerEnd));
                int to = Math.Min(bytes.Length, from + rng.Next(1, 9));
                var cut = bytes[..Math.Min(from, bytes.Length)].Concat(bytes[to..]).ToArray();
                if (rng.Next(2) == 0) AdjustPrefix(cut, -(to - from));
                return (cut, $"delete [{from}, {to})");
            }
            default:
            {
                var copy = (byte[])bytes.Clone();
                const string structural = "{}[]\",:0123456789e.- \\u";
                if (headerEnd > 8) copy[rng.Next(8, headerEnd)] = (byte)structural[rng.Next(structural.Length)];
                return (copy, "structural byte");
            }
        }
    }

    /// <summary>Replaces one number in the header (a dim or an offset) with an extreme value, keeping the prefix consistent.</summary>
    private static (byte[], string) ReplaceNumber(byte[] bytes, Random rng)
    {
        int headerEnd = HeaderEnd(bytes);
        if (headerEnd <= 8) return (bytes, "no header to edit");
        var header = Encoding.UTF8.GetString(bytes, 8, headerEnd - 8);
        var numbers = NumberToken().Matches(header);
        if (numbers.Count == 0) return (bytes, "no number to edit");
        var target = numbers[rng.Next(numbers.Count)];
        var value = rng.Next(3) == 0 ? (bytes.Length - headerEnd + rng.Next(-8, 9)).ToString() : HugeNumbers[rng.Next(HugeNumbers.Length)];
        var edited = Encoding.UTF8.GetBytes(header[..target.Index] + value + header[(target.Index + target.Length)..]);
        var result = new byte[8 + edited.Length + (bytes.Length - headerEnd)];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)edited.Length);
        edited.CopyTo(result, 8);
        bytes.AsSpan(headerEnd).CopyTo(result.AsSpan(8 + edited.Length));
        return (result, $"number '{target.Value}' -> {value}");
    }

    /// <summary>Where the header the prefix claims would end, clamped into the file (8 when there is no sane prefix).</summary>
    private static int HeaderEnd(byte[] bytes)
    {
        if (bytes.Length < 8) return bytes.Length;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return n > (ulong)(bytes.Length - 8) ? bytes.Length : 8 + (int)n;
    }

    private static void AdjustPrefix(byte[] bytes, int delta)
    {
        if (bytes.Length < 8) return;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)((long)n + delta));
    }
}
