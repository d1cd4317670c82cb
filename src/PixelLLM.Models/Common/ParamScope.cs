using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.Common;

/// <summary>
/// A model's view of its parameters while it builds a graph: <c>p["attn.qkv.weight"]</c> binds the weight once per graph
/// under its full name, and <c>p.Sub("blocks.0")</c> descends one module. Names are the module's own checkpoint names.
/// </summary>
public sealed class ParamScope(Graph graph, IWeightSource weights, string prefix = "")
{
    public Graph Graph { get; } = graph;
    public string Prefix { get; } = prefix;

    public Tensor this[string name]
    {
        get
        {
            var full = Full(name);
            var graphName = "param." + full;
            return Graph.TryGet(graphName, out var t) ? t : Graph.Weight(graphName, weights.Get(full));
        }
    }

    public bool Has(string name) => weights.Contains(Full(name));
    public Tensor? Optional(string name) => Has(name) ? this[name] : null;
    public Runtime.HostTensor Host(string name) => weights.Get(Full(name));
    public ParamScope Sub(string name) => new(Graph, weights, Full(name));

    private string Full(string name) => Prefix.Length == 0 ? name : Prefix + "." + name;
}
