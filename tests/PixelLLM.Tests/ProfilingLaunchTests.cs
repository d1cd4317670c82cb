using System.Text.Json;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Runtime.Profiling;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// A profiler that times launches books every launch a backend's timer reports under its kernel name (calls, total,
/// minimum), lists them in the table and the JSON, and asks the backend for launch timing only when told to.
/// </summary>
public class ProfilingLaunchTests
{
    [Fact]
    public void LaunchesAreBookedPerKernelAndReported()
    {
        var profiler = new ExecutionProfiler(timeLaunches: true);
        var device = new FakeTimedBackend(launches => new FakeTimer(launches), launchesPerNode: 2);
        using var backend = profiler.Wrap(device);
        using var exec = new GraphExecutor(Build(), backend);
        const int runs = 3;
        for (int run = 0; run < runs; run++)
        {
            exec.SetInput("x", OpHarness.Random(new Random(run), [3, 5]));
            exec.Run();
        }
        Assert.True(device.TimerAskedForLaunches);
        var report = profiler.Report(measurePeaks: false);

        // Every node launches "<op>_main" (1 ms) and "<op>_tail" (0.25 ms × its index in the run, ≥ 1).
        int nodes = exec.Plan.Order.Count(n => !n.Op.IsView);
        Assert.Equal(2 * report.Ops.Count, report.Kernels.Count);
        foreach (var op in report.Ops)
        {
            var main = Assert.Single(report.Kernels, k => k.Kernel == op.Op + "_main");
            Assert.Equal((op.Calls, 1.0 * op.Calls, 1.0), (main.Calls, main.TotalMs, main.MinMs));
            Assert.Equal(op.Calls, Assert.Single(report.Kernels, k => k.Kernel == op.Op + "_tail").Calls);
        }
        Assert.Equal(runs * nodes * 2, report.Kernels.Sum(k => k.Calls));
        Assert.Equal(runs * (nodes + 0.25 * nodes * (nodes + 1) / 2), report.Kernels.Sum(k => k.TotalMs), 9);
        Assert.Equal(report.Kernels.OrderByDescending(k => k.TotalMs), report.Kernels);

        var table = new StringWriter();
        report.WriteTable(table);
        Assert.Contains("kernels by device time", table.ToString());
        Assert.Contains(report.Kernels[0].Kernel, table.ToString());

        var json = new MemoryStream();
        report.WriteJson(json);
        var kernels = JsonDocument.Parse(json.ToArray()).RootElement.GetProperty("kernels");
        Assert.Equal(report.Kernels.Count, kernels.GetArrayLength());
        Assert.Equal(report.Kernels[0].Calls, kernels[0].GetProperty("calls").GetInt64());
    }

    [Fact]
    public void WithoutLaunchTimingTheBackendIsNotAskedAndNoKernelsAreListed()
    {
        var profiler = new ExecutionProfiler();
        var device = new FakeTimedBackend(launches => new FakeTimer(launches), launchesPerNode: 2);
        using var backend = profiler.Wrap(device);
        using var exec = new GraphExecutor(Build(), backend);
        exec.SetInput("x", OpHarness.Random(new Random(1), [3, 5]));
        exec.Run();
        Assert.False(device.TimerAskedForLaunches);
        var report = profiler.Report(measurePeaks: false);
        Assert.Empty(report.Kernels);
        var table = new StringWriter();
        report.WriteTable(table);
        Assert.DoesNotContain("kernels by device time", table.ToString());
    }

    private static Graph Build()
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 3, 5);
        var w = g.Weight("w", OpHarness.Random(new Random(7), [4, 5]));
        g.Output("y", g.Softmax(g.Gelu(g.Linear(x, w))));
        return g;
    }

    /// <summary>Two launches per node, as a device backend's timer would report them.</summary>
    private sealed class FakeTimer(bool timeLaunches) : FakeOpTimer
    {
        public override void Launched(string op)
        {
            if (!timeLaunches) return;
            Launches.Add(new(op + "_main", 1.0));
            Launches.Add(new(op + "_tail", 0.25 * (Launches.Count / 2 + 1)));
        }

        protected override Bracket BracketAt(int index) => new(double.NaN, 1.5);
    }
}
