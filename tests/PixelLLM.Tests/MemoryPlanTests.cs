using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

public class MemoryPlanTests
{
    private static (Graph, Tensor) Chain(int length, int width)
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 4, width);
        for (int i = 0; i < length; i++) x = g.Scale(x, 2f);
        g.Output("y", x);
        return (g, x);
    }

    [Fact]
    public void ChainReusesMemory()
    {
        var (g, y) = Chain(10, 100);
        var plan = MemoryPlan.Create(g, [y]);
        Assert.True(plan.PeakBytes < plan.SumBytes, $"peak {plan.PeakBytes} should be below sum {plan.SumBytes}");
        Assert.True(plan.PeakBytes <= 3 * MemoryPlan.Align(4 * 100 * 4));
        AssertNoLiveOverlap(g, plan);
    }

    [Fact]
    public void RandomGraphsNeverOverlapLiveTensors()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            var g = new Graph();
            var pool = new List<Tensor> { g.Input("x", DType.F32, 3, 5) };
            int steps = rng.Next(1, 30);
            for (int i = 0; i < steps; i++)
            {
                var a = pool[rng.Next(pool.Count)];
                var b = pool[rng.Next(pool.Count)];
                pool.Add(rng.Next(4) switch
                {
                    0 => g.Add(a, b),
                    1 => g.Reshape(g.Reshape(a, 5, 3), 3, 5),
                    2 => g.Reshape(g.Reshape(g.Mul(a, b), 15), 3, 5),
                    _ => g.Scale(a, 0.5f),
                });
            }
            var keep = pool.Where((_, i) => i > 0 && rng.Next(5) == 0).Append(pool[^1]).Distinct().ToList();
            var plan = MemoryPlan.Create(g, keep);
            AssertNoLiveOverlap(g, plan);
            foreach (var t in keep) Assert.Equal(plan.Order.Count, plan.Lifetimes[RootId(g, t)].Last);
        }
    }

    [Fact]
    public void StatesAndWhatAliasesThemStayOutOfTheArena()
    {
        var g = new Graph();
        var state = g.State("kv", DType.F32, 4, 6);
        var pos = g.Input("pos", DType.I32, 1);
        var view = g.Reshape(state, 4, 2, 3);
        var written = g.WriteAt(view, g.Input("v", DType.F32, 4, 1, 3), pos, axis: 1);
        var reordered = g.ReorderRows(written, g.Input("rows", DType.I32, 4));
        var y = g.Output("y", g.Scale(g.Reshape(reordered, 4, 6), 2f));
        var plan = MemoryPlan.Create(g, [y, reordered]);
        foreach (var t in new[] { state, view, written, reordered })
        {
            Assert.False(plan.Offsets.ContainsKey(t.Id), $"{t} is backed by a state but got an arena offset");
            Assert.False(plan.Lifetimes.ContainsKey(t.Id));
            Assert.Same(state, t.StorageRoot);
        }
        Assert.True(plan.Offsets.ContainsKey(y.Id));
        AssertNoLiveOverlap(g, plan);
    }

    [Fact]
    public void InPlaceChainsOnArenaTensorsShareTheirSourcesBytes()
    {
        var g = new Graph();
        var pos = g.Input("pos", DType.I32, 1);
        var a = g.Scale(g.Input("x", DType.F32, 3, 8), 3f);
        var b = g.WriteAt(a, g.Input("v", DType.F32, 3, 2), pos, axis: 1);
        var c = g.ReorderRows(g.Reshape(b, 3, 4, 2), g.Input("rows", DType.I32, 3));
        var late = g.Scale(a, 1f);                        // reads a after both updates: a's bytes must live until here
        var y = g.Output("y", g.Add(late, g.Reshape(c, 3, 8)));
        var plan = MemoryPlan.Create(g, [y]);
        Assert.Equal(plan.Offsets[a.Id], plan.Offsets[b.Id]);
        Assert.Equal(plan.Offsets[a.Id], plan.Offsets[c.Id]);
        Assert.Same(a, c.StorageRoot);
        int lateStep = plan.Order.ToList().FindIndex(n => n.Output == late);
        Assert.True(plan.Lifetimes[a.Id].Last >= lateStep);
        AssertNoLiveOverlap(g, plan);
    }

    private static int RootId(Graph g, Tensor t) => t.StorageRoot.Id;

    [Fact]
    public void TensorsTakeTheSizeTheBackendStoresThemIn()
    {
        // A backend storing f32 as 16-bit floats (the CUDA backend in bf16 or f16) needs half of each tensor's bytes.
        var (g, y) = Chain(10, 1024); // whole multiples of the alignment, at either size
        var full = MemoryPlan.Create(g, [y]);
        var half = MemoryPlan.Create(g, [y], storageBytes: d => d.ElementCount * 2);
        Assert.Equal(full.PeakBytes / 2, half.PeakBytes);
        Assert.Equal(full.SumBytes / 2, half.SumBytes);
        AssertNoLiveOverlap(g, half, d => d.ElementCount * 2);
    }

    internal static void AssertNoLiveOverlap(Graph g, MemoryPlan plan, Func<TensorDesc, long>? storageBytes = null)
    {
        var items = plan.Lifetimes.Select(kv => (Id: kv.Key, kv.Value.First, kv.Value.Last,
            Offset: plan.Offsets[kv.Key], Size: (storageBytes ?? (d => d.ByteSize))(g.Tensors[kv.Key].Desc))).ToList();
        foreach (var a in items)
            foreach (var b in items)
            {
                if (a.Id >= b.Id) continue;
                bool liveTogether = a.First <= b.Last && b.First <= a.Last;
                bool shareBytes = a.Offset < b.Offset + b.Size && b.Offset < a.Offset + a.Size;
                Assert.False(liveTogether && shareBytes, $"tensors {a.Id} and {b.Id} overlap while both live");
            }
        foreach (var (_, off) in plan.Offsets) Assert.Equal(0, off % MemoryPlan.Alignment);
    }
}

public class WeightViewTests
{
    [Fact]
    public void ReshapedWeightIsReadInPlace()
    {
        var g = new Graph();
        var w = g.Weight("w", HostTensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3));
        var x = g.Input("x", DType.F32, 3, 2);
        g.Output("y", g.Add(x, g.Reshape(g.Reshape(w, 6), 3, 2)));
        using var backend = new PixelLLM.Backends.Cpu.CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput<float>("x", new float[] { 10, 20, 30, 40, 50, 60 });
        exec.Run();
        Assert.Equal(new float[] { 11, 22, 33, 44, 55, 66 }, exec.FetchFloats("y"));
        Assert.DoesNotContain(exec.Plan.Offsets.Keys, id => g.Tensors[id].Producer?.Inputs[0].Kind == TensorKind.Weight);
    }
}
