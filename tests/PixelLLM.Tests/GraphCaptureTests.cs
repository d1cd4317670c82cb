using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Runtime.Profiling;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// The executor's side of CUDA-graph capture, on a fake backend with graph semantics (record without running, replay at
/// the recorded addresses): what a recording contains, one recording per executor (= per shape), when it is dropped and
/// redone, the eager fallback, and that replays give the eager outputs run after run, states included.
/// </summary>
public class GraphCaptureTests
{
    private const int Cols = 5, Out = 7, Slots = 6;

    /// <summary>x (rows, 5) → Linear → GELU → view → softmax; the result is written into a state at an input position and averaged.</summary>
    private static Graph Build(int rows)
    {
        var rng = new Random(3);
        var g = new Graph();
        var x = g.Input("x", DType.F32, rows, Cols);
        var position = g.Input("position", DType.I32, 1);
        var w = g.Weight("w", OpHarness.Random(rng, [Out, Cols]));
        var b = g.Weight("b", OpHarness.Random(rng, [Out]));
        var hidden = g.Reshape(g.Gelu(g.Linear(x, w, b)), rows * Out);
        var y = g.Softmax(g.Reshape(hidden, rows, Out));
        g.Output("y", y);
        var cache = g.State("cache", DType.F32, Slots, Out);
        g.Output("mean", g.ReduceMean(g.WriteAt(cache, y, position, axis: 0), 0));
        return g;
    }

    private static void Feed(GraphExecutor exec, int rows, int run)
    {
        var rng = new Random(100 + run);
        exec.SetInput("x", OpHarness.Random(rng, [rows, Cols]));
        exec.SetInput<int>("position", [run % (Slots - rows + 1)]);
    }

    private static void AssertSameOutputs(GraphExecutor expected, GraphExecutor actual, int run)
    {
        foreach (var name in new[] { "y", "mean" })
            Assert.True(expected.FetchFloats(name).AsSpan().SequenceEqual(actual.FetchFloats(name)), $"run {run}: '{name}' differs from the eager run");
    }

    private static int Launched(GraphExecutor exec) => exec.Plan.Order.Count(n => !n.Op.IsView);

    [Fact]
    public void ReplaysMatchEagerRunsAfterOneEagerRunAndOneRecording()
    {
        using var cpu = new CpuBackend();
        using var fake = new FakeCaptureBackend();
        using var reference = new GraphExecutor(Build(3), cpu);
        using var exec = new GraphExecutor(Build(3), fake);
        for (int run = 0; run < 6; run++)
        {
            Feed(reference, 3, run); reference.Run();
            Feed(exec, 3, run); exec.Run();
            AssertSameOutputs(reference, exec, run);
        }
        Assert.Equal(new CaptureStatistics(1, 5, 0, 0, null), exec.CaptureStats);
        Assert.Equal(Launched(exec), fake.EagerExecutes); // only the first run launched eagerly
        Assert.Equal(5, fake.Replays);
    }

    [Fact]
    public void RecordingHoldsEveryLaunchedNodeInPlanOrderAndNothingElse()
    {
        using var fake = new FakeCaptureBackend();
        using var exec = new GraphExecutor(Build(2), fake);
        for (int run = 0; run < 2; run++) { Feed(exec, 2, run); exec.Run(); }
        var recorded = Assert.Single(fake.Recorded);
        Assert.Equal(exec.Plan.Order.Where(n => !n.Op.IsView).Select(n => n.Op.Name), recorded);
        Assert.DoesNotContain("Reshape", recorded);
    }

    [Fact]
    public void EachShapeKeepsItsOwnRecording()
    {
        using var cpu = new CpuBackend();
        using var fake = new FakeCaptureBackend();
        var shapes = new[] { 3, 2 };
        var executors = shapes.Select(r => new GraphExecutor(Build(r), fake)).ToArray();
        var references = shapes.Select(r => new GraphExecutor(Build(r), cpu)).ToArray();
        try
        {
            for (int run = 0; run < 4; run++)
                for (int s = 0; s < shapes.Length; s++)
                {
                    Feed(references[s], shapes[s], run); references[s].Run();
                    Feed(executors[s], shapes[s], run); executors[s].Run();
                    AssertSameOutputs(references[s], executors[s], run);
                }
            Assert.All(executors, e => Assert.Equal(new CaptureStatistics(1, 3, 0, 0, null), e.CaptureStats));
            Assert.Equal(2, fake.CaptureAttempts);
        }
        finally
        {
            foreach (var e in executors.Concat(references)) e.Dispose();
        }
    }

    [Fact]
    public void MovedAddressesDropTheRecordingAndRecordAgain()
    {
        using var cpu = new CpuBackend();
        using var fake = new FakeCaptureBackend();
        using var reference = new GraphExecutor(Build(3), cpu);
        using var exec = new GraphExecutor(Build(3), fake);
        for (int run = 0; run < 5; run++)
        {
            if (run == 3) fake.CaptureGeneration++; // e.g. a scratch buffer regrown by another graph
            Feed(reference, 3, run); reference.Run();
            Feed(exec, 3, run); exec.Run();
            AssertSameOutputs(reference, exec, run);
        }
        Assert.Equal(new CaptureStatistics(2, 4, 1, 0, null), exec.CaptureStats);
    }

    [Fact]
    public void FailedRecordingsFallBackToEagerAndStopBeingTried()
    {
        using var cpu = new CpuBackend();
        using var fake = new FakeCaptureBackend { FailCaptures = true };
        using var reference = new GraphExecutor(Build(3), cpu);
        using var exec = new GraphExecutor(Build(3), fake);
        for (int run = 0; run < 8; run++)
        {
            Feed(reference, 3, run); reference.Run();
            Feed(exec, 3, run); exec.Run();
            AssertSameOutputs(reference, exec, run);
        }
        Assert.Equal(GraphCapture.MaxFailures, fake.CaptureAttempts);
        Assert.Equal(GraphCapture.MaxFailures, exec.CaptureStats.Failures);
        Assert.Equal("fake: this capture fails", exec.CaptureStats.LastFailure);
        Assert.Equal(8 * Launched(exec), fake.EagerExecutes);
        Assert.Equal(0, fake.Replays);
    }

    [Fact]
    public void NoRecordingWhenSwitchedOffOrProfiling()
    {
        using var fake = new FakeCaptureBackend();
        using (var off = new GraphExecutor(Build(3), fake) { AllowCapture = false })
            for (int run = 0; run < 3; run++) { Feed(off, 3, run); off.Run(); }
        fake.CaptureEnabled = false;
        using (var disabled = new GraphExecutor(Build(3), fake))
            for (int run = 0; run < 3; run++) { Feed(disabled, 3, run); disabled.Run(); }
        fake.CaptureEnabled = true;
        var profiler = new ExecutionProfiler();
        using var profiled = profiler.Wrap(fake, ownsInner: false);
        using (var exec = new GraphExecutor(Build(3), profiled))
            for (int run = 0; run < 3; run++) { Feed(exec, 3, run); exec.Run(); }
        Assert.Equal(0, fake.CaptureAttempts);
        Assert.Equal(3, profiler.Report(measurePeaks: false).Graphs.Single().Runs);
    }
}
