using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// A graph's side lane (<see cref="Graph.OnSideLane"/>): where it may run beside lane 0 (<see cref="LaneRegion"/>), that
/// the memory plan keeps the two lanes' bytes apart there, and that running either lane wholly first changes nothing.
/// </summary>
public class ConcurrentLanesTests
{
    private static Tensor Add(Graph g, Tensor a, Tensor b) => g.Apply(new BinaryOp(BinaryKind.Add), a, b);
    private static Tensor Mul(Graph g, Tensor a, Tensor b) => g.Apply(new BinaryOp(BinaryKind.Mul), a, b);

    /// <summary>x → lane-0 chain and side chain of <paramref name="depth"/> steps each → their sum.</summary>
    private static Graph TwoBranches(int depth, bool sideReadsLaneZero = false)
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 3, 5);
        var pre = Add(g, x, x);
        Tensor a = sideReadsLaneZero ? pre : x, b = x;
        for (int i = 0; i < depth; i++) a = Add(g, Mul(g, a, x), x);
        using (g.OnSideLane())
        {
            b = sideReadsLaneZero ? pre : x;
            for (int i = 0; i < depth; i++) b = Mul(g, Add(g, b, x), x);
        }
        g.Output("y", Add(g, a, b));
        return g;
    }

    [Fact]
    public void RegionSpansFromTheLastLaneZeroInputToTheFirstReadOfASideResult()
    {
        var g = TwoBranches(3);
        var plan = MemoryPlan.Create(g, [g.Outputs["y"]], concurrentLanes: true);
        var region = Assert.IsType<LaneRegion>(plan.Lanes);
        Assert.Equal(0, region.Fork);
        Assert.Equal(plan.Order.Count - 1, region.Join);

        var fed = TwoBranches(3, sideReadsLaneZero: true);
        var fedPlan = MemoryPlan.Create(fed, [fed.Outputs["y"]], concurrentLanes: true);
        Assert.Equal(1, fedPlan.Lanes!.Fork); // after `pre`, the one lane-0 node the side lane reads

        Assert.Null(MemoryPlan.Create(g, [g.Outputs["y"]]).Lanes); // not asked for: planned as one lane
    }

    [Fact]
    public void SideNodeAfterItsJoinOrUpdatingInPlaceMeansNoRegion()
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 4);
        Tensor side;
        using (g.OnSideLane()) side = Add(g, x, x);
        var read = Mul(g, side, x);                               // lane 0 reads it: the join is here
        using (g.OnSideLane()) g.Output("late", Add(g, read, x)); // a side node after the join
        Assert.Null(MemoryPlan.Create(g, [g.Outputs["late"]], concurrentLanes: true).Lanes);
    }

    [Fact]
    public void LaneZeroWritingInPlaceInsideTheWindowMeansNoRegion()
    {
        // p is read by the side lane and then overwritten in place by lane 0: run concurrently, the side lane could read
        // the new values. The plan keeps distinct tensors apart, not one tensor's two versions, so there is no region.
        var g = new Graph();
        var x = g.Input("x", DType.F32, 4);
        var p = Add(g, x, x);
        Tensor side;
        using (g.OnSideLane()) side = Mul(g, p, x);
        var written = g.Apply(new WriteAtOp(0), p, g.Input("v", DType.F32, 2), g.Input("at", DType.I32, 1));
        g.Output("y", Add(g, written, side));
        Assert.Null(MemoryPlan.Create(g, [g.Outputs["y"]], concurrentLanes: true).Lanes);
    }

    [Fact]
    public void AFailedLaunchInsideTheWindowStillJoinsTheLanes()
    {
        using var lanes = new FakeLanesBackend(sideLaneFirst: true) { FailOn = n => n.Lane == 1 };
        using var exec = new GraphExecutor(TwoBranches(2), lanes);
        exec.SetInput<float>("x", new float[15]);
        Assert.Throws<InvalidOperationException>(exec.Run);
        Assert.Equal("join", lanes.Events[^1]);
        lanes.FailOn = null;
        exec.Run(); // neither left forked nor on the side lane
        Assert.Equal(2, lanes.Events.Count(e => e == "join"));
    }

    [Fact]
    public void InsideTheWindowTheLanesNeverShareBytes()
    {
        var g = TwoBranches(6);
        var plan = MemoryPlan.Create(g, [g.Outputs["y"]], concurrentLanes: true);
        var region = plan.Lanes!;
        var byId = g.Tensors.ToDictionary(t => t.Id);
        var lanesOf = new Dictionary<int, HashSet<int>>();
        for (int i = region.Fork; i < region.Join; i++)
            foreach (var t in plan.Order[i].Inputs.Append(plan.Order[i].Output))
                if (plan.Offsets.ContainsKey(t.Id)) (lanesOf.TryGetValue(t.Id, out var s) ? s : lanesOf[t.Id] = []).Add(plan.Order[i].Lane);
        var spans = lanesOf.ToDictionary(kv => kv.Key, kv => (Start: plan.Offsets[kv.Key], End: plan.Offsets[kv.Key] + MemoryPlan.Align(byId[kv.Key].Desc.ByteSize)));
        int pairs = 0;
        foreach (var (a, la) in lanesOf)
            foreach (var (b, lb) in lanesOf)
            {
                if (a >= b || (la.SetEquals(lb) && la.Count == 1)) continue;
                pairs++;
                Assert.False(spans[a].Start < spans[b].End && spans[b].Start < spans[a].End, $"tensors {a} and {b} of different lanes share bytes");
            }
        Assert.True(pairs > 10);
        // One lane alone reuses bytes: the sequential plan is smaller, the concurrent one not larger than no reuse at all.
        var sequential = MemoryPlan.Create(g, [g.Outputs["y"]]);
        Assert.True(sequential.PeakBytes < plan.PeakBytes && plan.PeakBytes <= plan.SumBytes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EitherLaneWhollyFirstGivesTheSequentialResult(bool sideLaneFirst)
    {
        var values = Enumerable.Range(0, 15).Select(i => 0.1f * i - 0.7f).ToArray();
        float[] Run(IBackend backend)
        {
            using var exec = new GraphExecutor(TwoBranches(6), backend);
            exec.SetInput<float>("x", values);
            exec.Run();
            return exec.FetchFloats("y");
        }
        using var cpu = new CpuBackend();
        using var lanes = new FakeLanesBackend(sideLaneFirst);
        Assert.Equal(Run(cpu), Run(lanes));
        Assert.Equal("fork", lanes.Events[0]);
        Assert.Equal("join", lanes.Events[^1]);
        Assert.Equal(12, lanes.Events.Count(e => e.StartsWith("1:")));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PixelLlmVisionGraphRunsSamOnTheSideLaneWithIdenticalFeatures(bool sideLaneFirst)
    {
        using var golden = ScenicGolden.Open("caption_trace");
        var pixels = golden.Input("in.image");
        (float[] Fused, float[] Sam) Encode(IBackend backend)
        {
            using var model = PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
            var image = model.EncodeImage(pixels);
            return (image.Fused.ToFloatArray(), image.Sam!.ToFloatArray());
        }
        using var cpu = new CpuBackend();
        using var lanes = new FakeLanesBackend(sideLaneFirst);
        var (fused, sam) = Encode(cpu);
        var (laneFused, laneSam) = Encode(lanes);
        Assert.Equal(sam, laneSam);
        Assert.Equal(fused, laneFused);
        Assert.Contains(lanes.Events, e => e.StartsWith("1:"));
        Assert.Contains(lanes.Events, e => e.StartsWith("0:"));
    }
}
