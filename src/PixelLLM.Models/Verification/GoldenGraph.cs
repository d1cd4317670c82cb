using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Models.Verification;

/// <summary>Running a runner's graph: feed its inputs, keep every tensor the case lists, fetch them by the case's names.</summary>
public static class GoldenGraph
{
    /// <summary>
    /// Compiles <paramref name="g"/>, feeds each graph input from <paramref name="inputs"/>, runs it once and returns every graph
    /// output plus every named intermediate whose name the case lists under out.* or mid.*.
    /// </summary>
    public static Dictionary<string, HostTensor> Run(GoldenCase golden, Graph g, IBackend backend, IReadOnlyDictionary<string, HostTensor> inputs)
    {
        var listed = golden.IoNames.Where(n => n.StartsWith("mid.", StringComparison.Ordinal) || n.StartsWith("out.", StringComparison.Ordinal));
        var kept = listed.Where(n => !g.Outputs.ContainsKey(n) && g.TryGet(n, out _)).ToList();
        using var exec = new GraphExecutor(g, backend, kept);
        foreach (var t in g.Inputs)
            exec.SetInput(t.Name!, inputs.TryGetValue(t.Name!, out var v) ? v : throw new InvalidInputException($"{golden.Name}: no value for graph input '{t.Name}'"));
        exec.Run();
        return g.Outputs.Keys.Concat(kept).ToDictionary(n => n, exec.Fetch, StringComparer.Ordinal);
    }
}
