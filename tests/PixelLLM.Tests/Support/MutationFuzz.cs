using System.Diagnostics;

namespace PixelLLM.Tests.Support;

/// <summary>The loop every parser's seeded-mutation fuzz test shares: write a mutant, open and read it, classify the outcome.</summary>
internal static class MutationFuzz
{
    public sealed record Outcome(int Opened, int Rejected, IReadOnlyList<string> Failures, TimeSpan Elapsed);

    /// <summary>
    /// Writes <paramref name="iterations"/> mutants (from <paramref name="mutant"/>, given the iteration and one seeded
    /// Random) to <paramref name="path"/> and calls <paramref name="openAndRead"/>. <typeparamref name="TRejected"/> counts as
    /// a clean rejection (checked further by <paramref name="onRejected"/>); any other exception is a failure (the first five
    /// are kept). A loop still running after <paramref name="limit"/> fails as a hang.
    /// </summary>
    public static async Task<Outcome> RunAsync<TRejected>(string path, int iterations, int seed, TimeSpan limit,
        Func<int, Random, (byte[] Bytes, string Description)> mutant, Action<string, byte[]> openAndRead,
        Action<TRejected>? onRejected = null) where TRejected : Exception
    {
        int opened = 0, rejected = 0;
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        var run = Task.Run(() =>
        {
            var rng = new Random(seed);
            for (int i = 0; i < iterations && failures.Count < 5; i++)
            {
                var (bytes, description) = mutant(i, rng);
                File.WriteAllBytes(path, bytes);
                try
                {
                    openAndRead(path, bytes);
                    opened++;
                }
                catch (TRejected e)
                {
                    onRejected?.Invoke(e);
                    rejected++;
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    failures.Add($"iteration {i} ({description}): {e.GetType().Name}: {e.Message}");
                }
            }
        });
        var first = await Task.WhenAny(run, Task.Delay(limit));
        Assert.True(first == run, $"fuzz loop did not finish within {limit}");
        await run;
        return new Outcome(opened, rejected, failures, clock.Elapsed);
    }
}
