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
/// The per-op profiler on the CPU backend: every executed node is booked once per run under its op, FLOP and byte counts
/// of Linear, MatMul and attention equal a hand count on odd shapes, profiled runs give the unprofiled outputs bit for
/// bit, and the report (table and JSON) carries the measured peaks.
/// </summary>
public class ProfilingTests
{
    /// <summary>Linear → GELU → view → attention (causal, with a bias) → MatMul with a transposed operand → softmax.</summary>
    private static Graph Build()
    {
        var rng = new Random(5);
        var g = new Graph();
        var x = g.Input("x", DType.F32, 2, 3, 13);
        var w = g.Weight("w", OpHarness.Random(rng, [12, 13]));
        var b = g.Weight("b", OpHarness.Random(rng, [12]));
        var h = g.Reshape(g.Gelu(g.Linear(x, w, b)), 2, 3, 12);
        var kv = g.Input("kv", DType.F32, 2, 7, 12);
        var bias = g.Weight("bias", OpHarness.Random(rng, [1, 3, 3, 7]));
        var attended = g.Attention(h, kv, kv, numHeads: 3, scale: 0.5f, bias: bias, causal: true);
        var m = g.Weight("m", OpHarness.Random(rng, [9, 12]));
        g.Output("y", g.Softmax(g.MatMul(attended, m, transB: true)));
        return g;
    }

    private static void Feed(GraphExecutor exec, int run)
    {
        var rng = new Random(50 + run);
        exec.SetInput("x", OpHarness.Random(rng, [2, 3, 13]));
        exec.SetInput("kv", OpHarness.Random(rng, [2, 7, 12]));
    }

    [Fact]
    public void EveryExecutedOpIsBookedOncePerRun()
    {
        var profiler = new ExecutionProfiler();
        using var backend = profiler.Wrap(new CpuBackend());
        using var exec = new GraphExecutor(Build(), backend);
        const int runs = 3;
        for (int run = 0; run < runs; run++) { Feed(exec, run); exec.Run(); }
        var report = profiler.Report(measurePeaks: false);

        var launched = exec.Plan.Order.Where(n => !n.Op.IsView).ToList();
        var expected = launched.GroupBy(n => n.Op.Name).ToDictionary(grp => grp.Key, grp => (long)grp.Count() * runs);
        Assert.Equal(expected.OrderBy(kv => kv.Key), report.Ops.Select(r => KeyValuePair.Create(r.Op, r.Calls)).OrderBy(kv => kv.Key));
        Assert.DoesNotContain(report.Ops, r => r.Op == "Reshape");
        var graph = Assert.Single(report.Graphs);
        Assert.Equal((runs, launched.Count * runs, launched.Count * runs), (graph.Runs, graph.Nodes, graph.Launches));
        Assert.Equal(exec.Plan.PeakBytes, graph.ArenaBytes);
        Assert.True(graph.ArenaBytes > 0);
        Assert.Equal(launched.Count, graph.LaunchesPerRun);
        Assert.All(report.Ops, r => Assert.True(r.TotalMs >= 0 && r.MinMs <= r.TotalMs / r.Calls + 1e-12, r.Op));
        Assert.True(report.TotalDeviceMs <= graph.WallMs + 1e-6, "node times exceed the runs' wall time");

        var table = new StringWriter();
        report.WriteTable(table);
        var opLines = table.ToString().Split('\n').Skip(2).TakeWhile(l => !l.Contains("costliest", StringComparison.Ordinal)).ToList();
        foreach (var op in expected.Keys)
            Assert.Single(opLines, l => l.TrimStart().StartsWith(op + " ", StringComparison.Ordinal));
    }

    [Fact]
    public void LinearMatMulAndAttentionCountTheirFlopsByHand()
    {
        var profiler = new ExecutionProfiler();
        using var backend = profiler.Wrap(new CpuBackend());
        using var exec = new GraphExecutor(Build(), backend);
        Feed(exec, 0);
        exec.Run();
        var rows = profiler.Report(measurePeaks: false).Ops.ToDictionary(r => r.Op);

        // Linear: 2·6 rows·13 in·12 out multiply-adds plus the bias; bytes: x, w, b, y as f32.
        Assert.Equal(2.0 * 6 * 13 * 12 + 6 * 12, rows["Linear"].Flops);
        Assert.Equal(4.0 * (6 * 13 + 12 * 13 + 12 + 6 * 12), rows["Linear"].Bytes);
        // MatMul: (2, 3, 12) · (9, 12)ᵀ → 2·2·3·9·12.
        Assert.Equal(2.0 * 2 * 3 * 9 * 12, rows["MatMul"].Flops);
        // Causal attention, Lq 3 over Lk 7: query i sees 5 + i keys → 5 + 6 + 7 = 18 pairs per (batch, head), D = Dv = 4.
        Assert.Equal(2.0 * 2 * 3 * 18 * (4 + 4), rows["Attention"].Flops);
        Assert.Equal(4.0 * (2 * 3 * 12 + 2 * 2 * 7 * 12 + 3 * 3 * 7 + 2 * 3 * 12), rows["Attention"].Bytes);
    }

    [Theory]
    [InlineData(5, 7, false, 35)]
    [InlineData(5, 7, true, 3 + 4 + 5 + 6 + 7)]
    [InlineData(7, 5, true, 0 + 0 + 1 + 2 + 3 + 4 + 5)]
    [InlineData(1, 9, true, 9)]
    public void VisiblePairsFollowTheCausalRule(int lq, int lk, bool causal, int pairs) =>
        Assert.Equal(pairs, OpCosts.VisiblePairs(lq, lk, causal));

    [Fact]
    public void OddShapedGemmsCountTwoFlopsPerMultiplyAdd()
    {
        var f = DType.F32;
        TensorDesc D(params int[] s) => new(f, new Shape(s));
        // MatMul with a transposed a: a stored (3, K=11, M=5), b (11, 7) → (3, 5, 7).
        Assert.Equal(2.0 * 3 * 5 * 7 * 11, OpCosts.Of(new MatMulOp(TransA: true), [D(3, 11, 5), D(11, 7)], D(3, 5, 7)).Flops);
        // Linear without bias on (4, 9, 17) → 23 features.
        Assert.Equal(2.0 * 4 * 9 * 17 * 23, OpCosts.Of(new LinearOp(false), [D(4, 9, 17), D(23, 17)], D(4, 9, 23)).Flops);
        // Attention with Dv ≠ D: 3 heads, q (2, 5, 3·6), k (2, 9, 3·6), v (2, 9, 3·4); Lq 5, Lk 9.
        Assert.Equal(2.0 * 2 * 3 * 5 * 9 * (6 + 4), OpCosts.Of(new AttentionOp(3, 1f), [D(2, 5, 18), D(2, 9, 18), D(2, 9, 12)], D(2, 5, 12)).Flops);
        // Conv2d: (1, 7, 9, 3) * (5, 3, 3, 3) stride 2 pad 1 → (1, 4, 5, 5).
        Assert.Equal(2.0 * 4 * 5 * 5 * 3 * 3 * 3, OpCosts.Of(new Conv2dOp(2, 2, 1, 1, false), [D(1, 7, 9, 3), D(5, 3, 3, 3)], D(1, 4, 5, 5)).Flops);
    }

    [Fact]
    public void ProfilingDoesNotChangeOutputs()
    {
        using var plain = new CpuBackend();
        var profiler = new ExecutionProfiler();
        using var profiled = profiler.Wrap(new CpuBackend());
        using var a = new GraphExecutor(Build(), plain);
        using var b = new GraphExecutor(Build(), profiled);
        for (int run = 0; run < 3; run++)
        {
            Feed(a, run); a.Run();
            Feed(b, run); b.Run();
            Assert.True(a.FetchFloats("y").AsSpan().SequenceEqual(b.FetchFloats("y")), $"run {run}: profiled output differs");
        }
    }

    [Fact]
    public void ReportCarriesMeasuredPeaksInTableAndJson()
    {
        var profiler = new ExecutionProfiler();
        using var backend = profiler.Wrap(new CpuBackend());
        using var exec = new GraphExecutor(Build(), backend) { Label = "test graph" };
        Feed(exec, 0);
        exec.Run();
        var report = profiler.Report();
        var peaks = Assert.IsType<DevicePeaks>(report.Peaks);
        Assert.True(peaks.GemmFlopsPerSecond is > 1e6 and < 1e15 && peaks.CopyBytesPerSecond is > 1e6 and < 1e13, peaks.Describe());
        Assert.Same(peaks, DevicePeaks.For(((ProfilingBackend)backend).Inner)); // measured once per process and device

        var table = new StringWriter();
        report.WriteTable(table);
        Assert.Contains("measured peaks: GEMM", table.ToString());
        Assert.Contains("test graph", table.ToString());
        Assert.Contains("node times: wall clock around each node", table.ToString());

        using var stream = new MemoryStream();
        report.WriteJson(stream);
        using var doc = JsonDocument.Parse(stream.ToArray());
        var root = doc.RootElement;
        Assert.Equal(peaks.GemmFlopsPerSecond, root.GetProperty("peaks").GetProperty("gemm_flops_per_second").GetDouble());
        var ops = root.GetProperty("ops").EnumerateArray().ToList();
        Assert.Equal(report.Ops.Count, ops.Count);
        var linear = ops.Single(o => o.GetProperty("op").GetString() == "Linear");
        Assert.Equal(2.0 * 6 * 13 * 12 + 6 * 12, linear.GetProperty("flops").GetDouble());
        Assert.True(linear.GetProperty("roofline_fraction").GetDouble() > 0);
        Assert.Equal("test graph", root.GetProperty("graphs")[0].GetProperty("graph").GetString());
        Assert.Equal(exec.Plan.PeakBytes, root.GetProperty("graphs")[0].GetProperty("arena_bytes").GetInt64());
        Assert.Equal(report.NodeTiming, root.GetProperty("node_timing").GetString());
    }

    [Fact]
    public void OneProfilerWrapsOneBackend()
    {
        var profiler = new ExecutionProfiler();
        using var first = profiler.Wrap(new CpuBackend());
        using var second = new CpuBackend();
        Assert.Throws<InvalidOperationException>(() => profiler.Wrap(second, ownsInner: false));
    }
}
