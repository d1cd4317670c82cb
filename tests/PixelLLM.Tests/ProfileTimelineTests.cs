using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Runtime.Profiling;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// The profiler's timeline (Chrome trace-event JSON): one event per executed node per run in execution order, placed by
/// the backend's bracket starts, kernels where the timer put them, no two events of a track overlapping, sections that
/// keep a stage's timed runs while <see cref="ExecutionProfiler.Reset"/> drops its warm-up, and a cap on its size.
/// </summary>
public class ProfileTimelineTests
{
    private static Graph Build()
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 3, 5);
        var w = g.Weight("w", OpHarness.Random(new Random(7), [4, 5]));
        g.Output("y", g.Softmax(g.Reshape(g.Gelu(g.Linear(x, w)), 4, 3)));
        return g;
    }

    private static void Run(GraphExecutor exec, int times)
    {
        for (int i = 0; i < times; i++)
        {
            exec.SetInput("x", OpHarness.Random(new Random(i), [3, 5]));
            exec.Run();
        }
    }

    private sealed record TraceEvent(string Name, string Category, int Pid, int Tid, double Ts, double Dur, JsonElement Args)
    {
        public double End => Ts + Dur;
    }

    private static List<TraceEvent> Events(ExecutionProfiler profiler, out JsonElement root)
    {
        var stream = new MemoryStream();
        profiler.WriteTimeline(stream);
        root = JsonDocument.Parse(stream.ToArray()).RootElement.Clone();
        return [.. root.GetProperty("traceEvents").EnumerateArray().Where(e => e.GetProperty("ph").GetString() == "X").Select(e => new TraceEvent(
            e.GetProperty("name").GetString()!, e.GetProperty("cat").GetString()!, e.GetProperty("pid").GetInt32(), e.GetProperty("tid").GetInt32(),
            e.GetProperty("ts").GetDouble(), e.GetProperty("dur").GetDouble(), e.TryGetProperty("args", out var a) ? a.Clone() : default))];
    }

    private static void NoTrackOverlaps(IEnumerable<TraceEvent> events)
    {
        foreach (var track in events.GroupBy(e => (e.Pid, e.Tid)))
        {
            var sorted = track.OrderBy(e => e.Ts).ToList();
            for (int i = 1; i < sorted.Count; i++)
                Assert.True(sorted[i - 1].End <= sorted[i].Ts + 1e-9, $"track {track.Key}: {sorted[i - 1]} overlaps {sorted[i]}");
        }
    }

    [Fact]
    public void EveryNodeOfEveryRunIsOnTheDeviceTrackInExecutionOrder()
    {
        var profiler = new ExecutionProfiler(recordTimeline: true);
        using var backend = profiler.Wrap(new CpuBackend());
        using var exec = new GraphExecutor(Build(), backend) { Label = "tiny" };
        Run(exec, 3);
        var events = Events(profiler, out var root);

        var executed = exec.Plan.Order.Where(n => !n.Op.IsView).Select(n => n.Op.Name).ToList();
        var nodes = events.Where(e => e.Category == "node").OrderBy(e => e.Ts).ToList();
        Assert.Equal(Enumerable.Repeat(executed, 3).SelectMany(n => n), nodes.Select(e => e.Name));
        Assert.All(nodes, e => Assert.Equal((1, 1, "tiny"), (e.Pid, e.Tid, e.Args.GetProperty("graph").GetString())));
        Assert.DoesNotContain(nodes, e => e.Name == "Reshape");
        var runs = events.Where(e => e.Category == "run").OrderBy(e => e.Ts).ToList();
        Assert.Equal(3, runs.Count);
        Assert.All(runs, r => Assert.Equal(executed.Count, r.Args.GetProperty("nodes").GetInt32()));
        for (int i = 0; i < runs.Count; i++)
        {
            // The CPU's clock is the host's: each run's nodes lie inside its run.
            var inRun = nodes.Skip(i * executed.Count).Take(executed.Count).ToList();
            Assert.True(inRun[0].Ts >= runs[i].Ts - 1e-3 && inRun[^1].End <= runs[i].End + 1e-3, $"run {i}'s nodes lie outside it");
        }
        Assert.Equal(profiler.Report(measurePeaks: false).TotalDeviceMs * 1e3, nodes.Sum(e => e.Dur), 1e-3 * nodes.Count); // each written to the ns
        NoTrackOverlaps(events);

        var names = root.GetProperty("traceEvents").EnumerateArray().Where(e => e.GetProperty("ph").GetString() == "M")
            .Select(e => e.GetProperty("args").GetProperty("name").GetString()).ToList();
        Assert.Contains(names, n => n!.StartsWith("device: CPU", StringComparison.Ordinal));
        Assert.Contains("host", names);
        Assert.DoesNotContain("kernels", names);
        Assert.Equal("ms", root.GetProperty("displayTimeUnit").GetString());
    }

    [Fact]
    public void ResetDropsTheOpenSectionsRunsAndKeepsEndedSections()
    {
        var profiler = new ExecutionProfiler(recordTimeline: true);
        using var backend = profiler.Wrap(new CpuBackend());
        using var exec = new GraphExecutor(Build(), backend);
        var timeline = profiler.Timeline!;
        Run(exec, 1); // before any section, forgotten by the first Reset
        profiler.Reset();
        timeline.BeginSection("first");
        Run(exec, 1); // warm-up
        profiler.Reset();
        Run(exec, 2);
        timeline.EndSection();
        timeline.BeginSection("second");
        Run(exec, 1);
        profiler.Reset();
        timeline.EndSection();
        profiler.Reset(); // nothing after the last section: nothing to drop

        var events = Events(profiler, out _);
        var sections = events.Where(e => e.Category == "section").ToList();
        Assert.Equal(["first", "second"], sections.Select(s => s.Name));
        var runs = events.Where(e => e.Category == "run").ToList();
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => Assert.True(r.Ts >= sections[0].Ts && r.End <= sections[0].End + 1e-3, "a kept run lies outside its section"));
        int perRun = exec.Plan.Order.Count(n => !n.Op.IsView);
        Assert.Equal(2 * perRun, events.Count(e => e.Category == "node"));
        NoTrackOverlaps(events);
    }

    [Fact]
    public void NodesAndKernelsArePlacedByTheTimersStarts()
    {
        var profiler = new ExecutionProfiler(timeLaunches: true, recordTimeline: true);
        using var backend = profiler.Wrap(new FakeTimedBackend(_ => new ScriptedTimer()));
        using var exec = new GraphExecutor(Build(), backend);
        Run(exec, 2);
        var events = Events(profiler, out _);
        var runs = events.Where(e => e.Category == "run").OrderBy(e => e.Ts).ToList();
        var nodes = events.Where(e => e.Category == "node").OrderBy(e => e.Ts).ToList();
        var kernels = events.Where(e => e.Category == "launch").OrderBy(e => e.Ts).ToList();
        int perRun = exec.Plan.Order.Count(n => !n.Op.IsView);
        Assert.Equal((2 * perRun, 2 * perRun), (nodes.Count, kernels.Count));
        for (int run = 0; run < 2; run++)
        {
            double origin = nodes[run * perRun].Ts;
            Assert.True(origin >= runs[run].Ts - 1e-3, "the device track starts before its run");
            for (int i = 0; i < perRun; i++)
            {
                // ScriptedTimer: node i starts at 2·i ms and takes 1.5 ms; its kernel starts 0.25 ms into it and takes 1 ms.
                var node = nodes[run * perRun + i];
                var kernel = kernels[run * perRun + i];
                // µs, each time written to the ns: a sum or a difference of two written times is off by 1 ns at most.
                const double ns = 1.0001e-3;
                Assert.Equal(origin + 2000 * i, node.Ts, ns);
                Assert.Equal(1500, node.Dur, ns);
                Assert.Equal(node.Ts + 250, kernel.Ts, ns);
                Assert.Equal(1000, kernel.Dur, ns);
                Assert.Equal((1, 2), (kernel.Pid, kernel.Tid));
            }
        }
        // End is Ts + Dur summed in double: when the second run is clamped to the first's end, the two sides are the same
        // written instant, which the sum can pass by a rounding error (NoTrackOverlaps allows the same).
        Assert.True(nodes[perRun].Ts >= nodes[perRun - 1].End - 1e-9, "the second run starts before the first ended on the device");
        NoTrackOverlaps(events);
    }

    [Fact]
    public void RunsPastTheCapAreCountedNotKept()
    {
        var timeline = new ProfileTimeline(maxEvents: 10);
        ProfiledNode[] nodes = [new("Linear", "F32(2) → F32(2)", default), new("Gelu", "F32(2) → F32(2)", default)];
        Bracket[] brackets = [new(0, 1), new(1, 1)];
        for (int i = 0; i < 5; i++) timeline.AddRun("g", timeline.Now(), 3, 2, nodes, brackets, []);
        Assert.Equal((9, 2), (timeline.Events, timeline.RunsNotKept)); // 3 runs of 2 nodes + 1 run event fit in 10
        var stream = new MemoryStream();
        timeline.WriteJson(stream, "dev", "how");
        Assert.Equal(2, JsonDocument.Parse(stream.ToArray()).RootElement.GetProperty("otherData").GetProperty("runs_not_kept").GetInt32());
    }

    [Fact]
    public void AProfilerWithoutATimelineSaysSo()
    {
        var profiler = new ExecutionProfiler();
        Assert.Null(profiler.Timeline);
        var e = Assert.Throws<InvalidOperationException>(() => profiler.WriteTimeline(new MemoryStream()));
        Assert.Contains("recordTimeline", e.Message);
    }

    [Fact]
    public void StopwatchBracketsStartInOrderAndDoNotOverlap()
    {
        using var timer = new StopwatchOpTimer();
        for (int i = 0; i < 5; i++)
        {
            timer.Begin();
            Thread.SpinWait(2000 * (i + 1));
            timer.End();
        }
        var brackets = new Bracket[timer.Pending];
        timer.Collect(brackets);
        Assert.Equal(0, brackets[0].StartMs);
        for (int i = 1; i < brackets.Length; i++)
            Assert.True(brackets[i].StartMs >= brackets[i - 1].StartMs + brackets[i - 1].Ms, $"bracket {i} starts inside bracket {i - 1}");
        Assert.Equal(0, timer.Pending);
    }

    /// <summary>Brackets and launches as scripted (as a device's event pairs would give them).</summary>
    private sealed class ScriptedTimer : FakeOpTimer
    {
        public override void Launched(string op) => Launches.Add(new(op + "_kernel", 1.0, 2.0 * Launches.Count + 0.25));
        protected override Bracket BracketAt(int index) => new(2.0 * index, 1.5);
    }
}
