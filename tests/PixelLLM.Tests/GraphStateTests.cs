using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>Executor-owned persistent states: zero start, survival across runs, program-order reads, sharing between executors.</summary>
public class GraphStateTests
{
    private static (Graph G, Tensor State) RowWriter(int rows = 4, int width = 3)
    {
        var g = new Graph();
        var state = g.State("cache", DType.F32, rows, width);
        var written = g.WriteAt(state, g.Input("row", DType.F32, 1, width), g.Input("pos", DType.I32, 1), axis: 0);
        g.Output("sum", g.Add(written, written));
        return (g, state);
    }

    [Fact]
    public void StatesStartAtZeroAndKeepEveryRunsWrites()
    {
        var (g, _) = RowWriter();
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        Assert.All(exec.FetchFloats("cache"), v => Assert.Equal(0f, v));
        var expected = new float[12];
        foreach (var pos in new[] { 2, 0, 3 })
        {
            float[] row = [pos + 0.5f, -pos, 7f * pos];
            row.CopyTo(expected, pos * 3);
            exec.SetInput<float>("row", row);
            exec.SetInput<int>("pos", [pos]);
            exec.Run();
            Assert.Equal(expected, exec.FetchFloats("cache"));
            Assert.Equal(expected.Select(v => 2 * v), exec.FetchFloats("sum"));
        }
    }

    [Fact]
    public void StatesAreSettableAndFetchable()
    {
        var (g, _) = RowWriter(2, 2);
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput<float>("cache", [1, 2, 3, 4]);
        exec.SetInput<float>("row", [9, 8]);
        exec.SetInput<int>("pos", [1]);
        exec.Run();
        Assert.Equal([1f, 2, 9, 8], exec.FetchFloats("cache"));
        var into = new float[4];
        exec.FetchInto<float>("sum", into);
        Assert.Equal([2f, 4, 18, 16], into);
        Assert.Throws<InvalidInputException>(() => exec.SetInput<float>("sum", [0, 0, 0, 0]));
        Assert.Throws<InvalidInputException>(() => exec.SetInput<float>("cache", [0, 0, 0]));
    }

    [Fact]
    public void ReadersCreatedBeforeAnUpdateSeeTheOldValueAndAfterItTheNew()
    {
        var g = new Graph();
        var state = g.State("s", DType.F32, 3);
        g.Output("before", g.Scale(state, 1f));
        g.WriteAt(state, g.Input("v", DType.F32, 1), g.Input("pos", DType.I32, 1), axis: 0);
        g.Output("after", g.Scale(state, 1f));       // names the state itself, not the update's output
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput<float>("v", [5]);
        exec.SetInput<int>("pos", [1]);
        exec.Run();
        Assert.Equal([0f, 0, 0], exec.FetchFloats("before"));
        Assert.Equal([0f, 5, 0], exec.FetchFloats("after"));
        exec.SetInput<float>("v", [6]);
        exec.SetInput<int>("pos", [2]);
        exec.Run();
        Assert.Equal([0f, 5, 0], exec.FetchFloats("before"));
        Assert.Equal([0f, 5, 6], exec.FetchFloats("after"));
    }

    [Fact]
    public void AGraphThatOnlyUpdatesStatesRunsAndSharesThem()
    {
        var reader = new Graph();
        var kept = reader.State("kv", DType.F32, 2, 2);
        reader.Output("doubled", reader.Scale(kept, 2f));
        var writer = new Graph();
        var kv = writer.Reshape(writer.State("kv", DType.F32, 2, 2), 4);     // updates through a view reach the state
        writer.WriteAt(kv, writer.Input("v", DType.F32, 4), writer.Weight("zero", HostTensor.FromArray(new[] { 0 }, 1)), axis: 0);

        using var backend = new CpuBackend();
        using var owner = new GraphExecutor(reader, backend);
        using var fill = new GraphExecutor(writer, backend, shareStatesWith: owner);
        Assert.Equal([writer["v"].Id], fill.Plan.Offsets.Keys);
        fill.SetInput<float>("v", [1, 2, 3, 4]);
        fill.Run();
        owner.Run();
        Assert.Equal([2f, 4, 6, 8], owner.FetchFloats("doubled"));

        var mismatch = new Graph();
        mismatch.WriteAt(mismatch.State("kv", DType.F32, 4), mismatch.Input("v", DType.F32, 4), mismatch.Input("p", DType.I32, 1), 0);
        Assert.Throws<GraphBuildException>(() => new GraphExecutor(mismatch, backend, shareStatesWith: owner));
    }
}
