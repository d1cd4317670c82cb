using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Execution;

/// <summary>
/// Executors compiled once per shape key and kept: a model asks for the same shapes request after request, and a kept
/// executor keeps its planned arena (and, on CUDA, its recorded graph). Disposing disposes every executor.
/// </summary>
public sealed class CompiledGraphs : IDisposable
{
    private readonly Dictionary<string, GraphExecutor> executors = new(StringComparer.Ordinal);

    /// <summary>The executor for <paramref name="key"/>, built from <paramref name="build"/> on <paramref name="backend"/> the first time.</summary>
    public GraphExecutor GetOrBuild(IBackend backend, string key, Action<Graph> build)
    {
        if (executors.TryGetValue(key, out var exec)) return exec;
        var g = new Graph();
        build(g);
        return executors[key] = new GraphExecutor(g, backend);
    }

    public void Dispose()
    {
        foreach (var e in executors.Values) e.Dispose();
        executors.Clear();
    }
}
