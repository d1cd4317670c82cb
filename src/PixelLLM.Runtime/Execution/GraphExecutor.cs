using System.Runtime.InteropServices;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Execution;

/// <summary>
/// A graph compiled for one backend: ordered, planned into one arena, with every node's operand views resolved,
/// so <see cref="Run"/> only launches kernels. Build once per shape, run many times.
/// </summary>
public sealed class GraphExecutor : IDisposable
{
    private readonly IBackend backend;
    private readonly IBackendBuffer arena;
    private readonly Node[] steps;
    private readonly TensorView[][] stepInputs;
    private readonly TensorView[] stepOutputs;
    private readonly Dictionary<string, TensorView> named = new(StringComparer.Ordinal);

    /// <summary>Compiles <paramref name="graph"/>; <paramref name="keep"/> names intermediates to keep fetchable besides the outputs.</summary>
    public GraphExecutor(Graph graph, IBackend backend, IEnumerable<string>? keep = null)
    {
        this.backend = backend;
        Graph = graph;
        var kept = graph.Outputs.Values.Concat((keep ?? []).Select(n => graph[n])).Distinct().ToList();
        if (kept.Count == 0) throw new GraphBuildException("graph has no outputs");
        Plan = MemoryPlan.Create(graph, kept);
        arena = backend.Allocate(Math.Max(Plan.PeakBytes, MemoryPlan.Alignment));

        var views = new Dictionary<int, TensorView>();
        TensorView ViewOf(Tensor t)
        {
            if (views.TryGetValue(t.Id, out var v)) return v;
            v = t.Kind == TensorKind.Weight ? backend.AddWeight(t.WeightData!)
                : Plan.Offsets.TryGetValue(t.Id, out var offset) ? new TensorView(arena, offset, t.Desc)
                : ViewOf(t.Producer!.Inputs[0]) with { Desc = t.Desc };   // a view of a weight shares the weight's storage
            views[t.Id] = v;
            return v;
        }
        steps = Plan.Order.ToArray();
        stepInputs = steps.Select(n => n.Inputs.Select(ViewOf).ToArray()).ToArray();
        stepOutputs = steps.Select(n => ViewOf(n.Output)).ToArray();
        foreach (var t in graph.Inputs) named[t.Name!] = ViewOf(t);
        foreach (var t in kept) named[t.Name!] = ViewOf(t);
        foreach (var (name, t) in graph.Outputs) named[name] = ViewOf(t);
    }

    public Graph Graph { get; }
    public MemoryPlan Plan { get; }
    public string BackendName => backend.Name;

    public void SetInput<T>(string name, ReadOnlySpan<T> values) where T : unmanaged
    {
        var view = View(name);
        var graphTensor = Graph[name];
        if (graphTensor.Kind != TensorKind.Input) throw new InvalidInputException($"'{name}' is not a graph input");
        if (HostTensor.DTypeOf<T>() != view.Desc.DType || values.Length != view.Desc.ElementCount)
            throw new InvalidInputException($"input '{name}' expects {view.Desc}, got {values.Length} values of {typeof(T).Name}");
        backend.Write(view, MemoryMarshal.AsBytes(values));
    }

    public void SetInput(string name, HostTensor value)
    {
        var view = View(name);
        if (value.Desc != view.Desc) throw new InvalidInputException($"input '{name}' expects {view.Desc}, got {value.Desc}");
        backend.Write(view, value.Data.Span);
    }

    public void Run()
    {
        for (int i = 0; i < steps.Length; i++)
        {
            if (steps[i].Op.IsView) continue;
            backend.Execute(steps[i], stepInputs[i], stepOutputs[i]);
        }
        backend.Synchronize();
    }

    /// <summary>Copies a kept tensor (output, input or named intermediate passed as keep) back to the host.</summary>
    public HostTensor Fetch(string name)
    {
        var view = View(name);
        var bytes = new byte[view.Desc.ByteSize];
        backend.Read(view, bytes);
        return new HostTensor(view.Desc, bytes);
    }

    public float[] FetchFloats(string name) => Fetch(name).ToFloatArray();

    private TensorView View(string name) => named.TryGetValue(name, out var v) ? v
        : throw new KeyNotFoundException($"'{name}' is not an input, output or kept tensor of this graph");

    public void Dispose() => arena.Dispose();
}
