using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// PIXELLLM_ISOLATE_TENSORS: every planned tensor in an allocation of its own, its exact size, so that a memory checker
/// sees a kernel that overruns a tensor (tests/CudaEmulator's memcheck, compute-sanitizer on the device).
/// </summary>
public class IsolatedTensorsTests
{
    /// <summary>Counts what a graph executor allocates; everything else goes to the CPU backend.</summary>
    private sealed class CountingBackend : IBackend
    {
        private readonly CpuBackend inner = new();
        public List<long> Allocations { get; } = [];
        public string Name => inner.Name;
        public IBackendBuffer Allocate(long bytes) { Allocations.Add(bytes); return inner.Allocate(bytes); }
        public TensorView AddWeight(HostTensor weight) => inner.AddWeight(weight);
        public void Write(TensorView destination, ReadOnlySpan<byte> source) => inner.Write(destination, source);
        public void Read(TensorView source, Span<byte> destination) => inner.Read(source, destination);
        public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output) => inner.Execute(node, inputs, output);
        public void Synchronize() => inner.Synchronize();
        public void Dispose() => inner.Dispose();
    }

    /// <summary>x (3, 5) → 2x → viewed as (5, 3) → + itself → (1, 15) → + 1 … with distinct sizes: 60-byte tensors and a 12-byte sum.</summary>
    private static Graph Build()
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 3, 5);
        var doubled = g.Reshape(g.Scale(x, 2f), 5, 3);
        var summed = g.Add(doubled, doubled);
        g.Output("y", g.Reshape(g.Scale(summed, 1f, 1f), 1, 15));
        g.Output("rows", g.ReduceMean(x, 1));
        return g;
    }

    [Fact]
    public void EachPlannedTensorGetsItsOwnExactAllocationAndTheSameResults()
    {
        var input = Enumerable.Range(0, 15).Select(i => i * 0.25f - 1f).ToArray();
        float[] Run(bool isolate, out List<long> allocations, out bool isolated)
        {
            using var backend = new CountingBackend();
            using var executor = new GraphExecutor(Build(), backend, null, null, isolate);
            executor.SetInput<float>("x", input);
            executor.Run();
            allocations = backend.Allocations;
            isolated = executor.IsolatedTensors;
            return [.. executor.FetchFloats("y"), .. executor.FetchFloats("rows")];
        }

        var arena = Run(false, out var arenaAllocations, out bool arenaIsolated);
        var own = Run(true, out var ownAllocations, out bool ownIsolated);
        Assert.Equal(arena, own);
        Assert.False(arenaIsolated);
        Assert.True(ownIsolated);
        Assert.Single(arenaAllocations);
        // x, 2x (its view shares it), the sum, the + 1 (its view shares it): 60 bytes each; the row means: 12 bytes.
        Assert.Equal([12L, 60, 60, 60, 60], ownAllocations.Order());
    }
}
