using System.Diagnostics;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checkpoints;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests;

/// <summary>
/// Seeded mutations (truncations, byte flips, overwrites with boundary values) of the real torch.save fixtures: each
/// mutant must either open with every tensor readable, or be rejected with <see cref="ModelFileException"/>. Any other
/// exception, or a hang, fails.
/// </summary>
public class TorchCheckpointFuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 3000;
    private static readonly TimeSpan TimeLimit = TimeSpan.FromMinutes(3); // generous: the loop takes seconds
    private static readonly string[] Seeds = ["dtypes.pth", "views.pth", "nested.pth", "protocol4.pth", "deflated.pth"];
    private static readonly byte[] Boundary = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF];

    [Fact]
    public async Task SeededMutationsEitherOpenCleanlyOrThrowModelFileException()
    {
        using var dir = new TempDirectory();
        var seeds = Seeds.Select(s => File.ReadAllBytes(TorchFixtures.Path(s))).ToArray();
        var path = dir.File("mutant.pth");
        var (opened, rejected, failures, elapsed) = await MutationFuzz.RunAsync<ModelFileException>(path, Iterations, 20240611, TimeLimit,
            (i, rng) =>
            {
                int seed = rng.Next(seeds.Length);
                var (mutant, how) = Mutate(seeds[seed], rng);
                return (mutant, $"{Seeds[seed]} {how}");
            },
            (file, _) =>
            {
                using var checkpoint = TorchCheckpoint.Open(file);
                foreach (var name in checkpoint.Names) Touch(checkpoint.Get(name));
            },
            e => Assert.Contains(path, e.Message));

        output.WriteLine($"{opened} mutants opened, {rejected} rejected, in {elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(rejected > Iterations / 4, $"only {rejected} of {Iterations} mutants were rejected; the mutations are too weak");
    }

    [Fact]
    public void EveryTruncationIsRejected()
    {
        using var dir = new TempDirectory();
        var path = dir.File("truncated.pth");
        foreach (var seed in Seeds)
        {
            var bytes = File.ReadAllBytes(TorchFixtures.Path(seed));
            // Every prefix cut inside the directory and end records (the last 150 bytes), and every 17th elsewhere: the
            // end record is lost, so none may open.
            for (int length = 0; length < bytes.Length; length += length < bytes.Length - 150 ? 17 : 1)
            {
                File.WriteAllBytes(path, bytes[..length]);
                var error = Assert.Throws<ModelFileException>(() => TorchCheckpoint.Open(path).Dispose());
                Assert.Contains(path, error.Message);
            }
        }
    }

    private static (byte[] Mutant, string How) Mutate(byte[] seed, Random rng)
    {
        var bytes = (byte[])seed.Clone();
        switch (rng.Next(4))
        {
            case 0:
                int length = rng.Next(bytes.Length);
                return (bytes[..length], $"truncated to {length}");
            case 1: // the pickle sits at the front of the archive: aim there, where one byte changes the structure
            {
                int at = rng.Next(Math.Min(bytes.Length, 600));
                byte was = bytes[at];
                bytes[at] ^= (byte)(1 << rng.Next(8));
                return (bytes, $"bit flip at {at} (0x{was:X2} → 0x{bytes[at]:X2})");
            }
            case 2: // the central directory and end records sit at the back
            {
                int at = bytes.Length - 1 - rng.Next(Math.Min(bytes.Length, 400));
                bytes[at] = Boundary[rng.Next(Boundary.Length)];
                return (bytes, $"tail byte {at} set to 0x{bytes[at]:X2}");
            }
            default:
            {
                int flips = 1 + rng.Next(4);
                var where = new List<int>();
                for (int k = 0; k < flips; k++)
                {
                    int at = rng.Next(bytes.Length);
                    bytes[at] = (byte)rng.Next(256);
                    where.Add(at);
                }
                return (bytes, $"random bytes at {string.Join(",", where)}");
            }
        }
    }

    private static void Touch(HostTensor tensor)
    {
        long sum = 0;
        foreach (var b in tensor.Data.Span) sum += b;
        GC.KeepAlive(sum);
    }
}
