using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// A kept tensor is read where it is while its executor holds it, and copied to the host before anything overwrites it
/// unless its holder released it.
/// </summary>
public sealed class KeptTensorTests : IDisposable
{
    private readonly CountingBackend backend = new();

    private static Graph Doubler(string input)
    {
        var g = new Graph();
        var x = g.Input(input, DType.F32, 2, 3);
        g.Output("y", g.Apply(new BinaryOp(BinaryKind.Add), x, x));
        return g;
    }

    private static readonly float[] First = [1, 2, 3, 4, 5, 6], Second = [-1, -2, -3, -4, -5, -6];

    [Fact]
    public void AResidentValueIsBoundOnTheBackendWithoutARead()
    {
        using var source = new GraphExecutor(Doubler("a"), backend);
        using var next = new GraphExecutor(Doubler("b"), backend);
        source.SetInput<float>("a", First);
        source.Run();
        var kept = source.Keep("y");
        Assert.True(kept.IsResident);
        Assert.Equal(new TensorDesc(DType.F32, new Shape(2, 3)), kept.Desc);

        backend.Reset();
        kept.Bind(next, "b");
        next.Run();
        Assert.Empty(backend.Reads);
        Assert.Equal(1, backend.Copies);
        Assert.Equal([4f, 8, 12, 16, 20, 24], next.FetchFloats("y"));
    }

    [Fact]
    public void AHeldValueIsCopiedToTheHostBeforeItsExecutorTakesANewInput()
    {
        using var source = new GraphExecutor(Doubler("a"), backend);
        using var next = new GraphExecutor(Doubler("b"), backend);
        source.SetInput<float>("a", First);
        source.Run();
        var kept = source.Keep("y");

        backend.Reset();
        source.SetInput<float>("a", Second);             // the input may share arena bytes with the last run's output
        Assert.Equal([24L], backend.Reads);              // so the held value was read back first
        Assert.False(kept.IsResident);
        source.Run();
        Assert.Equal([2f, 4, 6, 8, 10, 12], kept.Host.ToFloatArray());

        kept.Bind(next, "b");                            // no longer on the backend: bound from the host copy
        next.Run();
        Assert.Equal([4f, 8, 12, 16, 20, 24], next.FetchFloats("y"));
        Assert.Equal([-2f, -4, -6, -8, -10, -12], source.FetchFloats("y"));
    }

    [Fact]
    public void AReleasedValueIsNotCopiedAndCannotBeReadOnceOverwritten()
    {
        using var source = new GraphExecutor(Doubler("a"), backend);
        source.SetInput<float>("a", First);
        source.Run();
        var released = source.Keep("y");
        var read = source.Keep("y");
        Assert.Equal([2f, 4, 6, 8, 10, 12], read.Host.ToFloatArray()); // read before the release: a host copy, as usual
        released.Release();
        read.Release();
        Assert.True(released.IsResident);                                  // released, not yet overwritten: still readable
        Assert.Equal([2f, 4, 6, 8, 10, 12], released.Host.ToFloatArray());

        var late = source.Keep("y");
        late.Release();
        backend.Reset();
        source.Run();
        Assert.Empty(backend.Reads);
        Assert.Throws<InvalidOperationException>(() => late.Host);
        using var next = new GraphExecutor(Doubler("b"), backend);
        Assert.Throws<InvalidOperationException>(() => late.Bind(next, "b"));
        Assert.Equal([2f, 4, 6, 8, 10, 12], read.Host.ToFloatArray());
    }

    [Fact]
    public void AFailedCopyLeavesEveryHeldValueUnreadableNeverStale()
    {
        using var source = new GraphExecutor(Doubler("a"), backend);
        source.SetInput<float>("a", First);
        source.Run();
        var (first, second) = (source.Keep("y"), source.Keep("y"));
        backend.FailReads = true;
        Assert.Throws<BackendException>(() => source.SetInput<float>("a", Second));
        backend.FailReads = false;
        source.Run();
        Assert.False(first.IsResident);
        Assert.False(second.IsResident);
        Assert.Throws<InvalidOperationException>(() => first.Host);
        Assert.Throws<InvalidOperationException>(() => second.Host);
    }

    [Fact]
    public void HeldValuesOutliveTheirExecutor()
    {
        KeptTensor kept;
        using (var source = new GraphExecutor(Doubler("a"), backend))
        {
            source.SetInput<float>("a", First);
            source.Run();
            kept = source.Keep("y");
        }
        Assert.Equal([2f, 4, 6, 8, 10, 12], kept.Host.ToFloatArray());
    }

    [Fact]
    public void AHostValueIsWrittenWhereItIsBound()
    {
        using var next = new GraphExecutor(Doubler("b"), backend);
        var kept = new KeptTensor(HostTensor.FromArray(First, 2, 3));
        Assert.False(kept.IsResident);
        kept.Bind(next, "b");
        next.Run();
        Assert.Equal(0, backend.Copies);
        Assert.Equal([2f, 4, 6, 8, 10, 12], next.FetchFloats("y"));
        Assert.Throws<InvalidInputException>(() => new KeptTensor(HostTensor.FromArray(First, 3, 2)).Bind(next, "b"));
    }

    public void Dispose() => backend.Dispose();
}
