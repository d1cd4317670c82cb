using BenchmarkDotNet.Attributes;
using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Bench;

/// <summary>
/// A benchmark of one compiled graph on the CPU backend: subclasses build the graph and its inputs once in
/// <see cref="Setup"/>; the measured call is one <see cref="GraphExecutor.Run"/>.
/// </summary>
[Config(typeof(ThroughputConfig))]
public abstract class GraphBenchmark
{
    private CpuBackend? backend;
    private GraphExecutor? executor;

    /// <summary>Adds inputs, weights and ops to <paramref name="g"/> and marks the output; returns the input values.</summary>
    protected abstract IReadOnlyDictionary<string, HostTensor> Build(Graph g, Random rng);

    [GlobalSetup]
    public void Setup()
    {
        var g = new Graph();
        var inputs = Build(g, new Random(42));
        backend = new CpuBackend();
        executor = new GraphExecutor(g, backend);
        foreach (var (name, value) in inputs) executor.SetInput(name, value);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        executor?.Dispose();
        backend?.Dispose();
    }

    protected void RunGraph() => executor!.Run();

    protected static HostTensor Random(Random rng, params int[] shape)
    {
        var values = new float[new Shape(shape).ElementCount];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return HostTensor.FromArray(values, shape);
    }
}
