using System.Diagnostics;
using Xunit.Abstractions;

namespace PixelLLM.Tests.Api;

/// <summary>
/// A bounded stress run of mixed tasks from two threads on one loaded model: after a warm-up (graphs compiled, pools filled),
/// further rounds must not grow managed memory or the process's private bytes beyond noise — no per-request leak of
/// executors, arenas, mapped files or pinned buffers. The numbers go to the test log (docs/reliability.md quotes them).
/// Process-wide numbers mean something only while no other test runs, hence its own non-parallel collection.
/// </summary>
[Collection(MemoryMeasurement.Name)]
public class MemoryGrowthTests(TinyModel tiny, ITestOutputHelper log) : IClassFixture<TinyModel>
{
    private const int WarmupRounds = 6, MeasuredRounds = 150;

    [Fact]
    public void MixedTasksFromTwoThreadsDoNotGrowMemory()
    {
        var image = TinyModel.Image("caption_trace");
        var boxes = new[] { new Box(2, 3, 40, 50), new Box(0, 0, 20, 20), new Box(10, 12, 60, 70) };
        void Round(int i)
        {
            switch (i % 3)
            {
                case 0: tiny.Model.Caption(image); break;
                case 1: tiny.Model.Caption(image, boxes); break;
                default: tiny.Model.Refer(image, i % 2 == 0 ? "red" : "a cat"); break;
            }
        }
        void Run(int rounds) => Parallel.For(0, rounds, new ParallelOptions { MaxDegreeOfParallelism = 2 }, Round);

        Run(WarmupRounds);
        var (managedBefore, privateBefore) = Measure();
        var clock = Stopwatch.StartNew();
        Run(MeasuredRounds);
        var (managedAfter, privateAfter) = Measure();
        long managedGrowth = managedAfter - managedBefore, privateGrowth = privateAfter - privateBefore;
        log.WriteLine($"{MeasuredRounds} mixed requests in {clock.Elapsed.TotalSeconds:F1} s: managed {managedBefore / 1e6:F1} → {managedAfter / 1e6:F1} MB " +
                      $"({managedGrowth / 1e6:+0.0;-0.0} MB), private {privateBefore / 1e6:F1} → {privateAfter / 1e6:F1} MB ({privateGrowth / 1e6:+0.0;-0.0} MB)");
        Assert.True(managedGrowth < 4_000_000, $"managed memory grew by {managedGrowth:N0} bytes over {MeasuredRounds} requests");
        Assert.True(privateGrowth < 48_000_000, $"private memory grew by {privateGrowth:N0} bytes over {MeasuredRounds} requests");
    }

    private static (long Managed, long Private) Measure()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), process.PrivateMemorySize64);
    }
}

/// <summary>Tests that measure process-wide memory: xunit runs this collection alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurement
{
    public const string Name = "memory measurement (runs alone)";
}
