using PixelLLM.Runtime;
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
    public HostTensor Host(string name) => weights.Get(Full(name));
    public ParamScope Sub(string name) => new(Graph, weights, Full(name));

    /// <summary>
    /// A weight of rank 1 or 2 and exactly <paramref name="shape"/>, zero-padded at the end of each dim to
    /// <paramref name="padded"/> (one copy per graph), for products whose odd widths are carried aligned: the zeros add
    /// nothing to any sum. Another stored shape → <see cref="ModelFileException"/> naming the tensor.
    /// </summary>
    public Tensor Padded(string name, int[] shape, int[] padded)
    {
        var full = Full(name);
        var graphName = $"param.{full}:padded{string.Join('x', padded)}";
        if (Graph.TryGet(graphName, out var t)) return t;
        var source = weights.Get(full);
        if (source.Shape != new Shape(shape))
            throw new ModelFileException($"{full} is {source.Shape}, expected ({string.Join(", ", shape)})");
        if (shape.Length is < 1 or > 2 || padded.Length != shape.Length || Enumerable.Range(0, shape.Length).Any(d => padded[d] < shape[d]))
            throw new ArgumentException($"{full}: cannot pad ({string.Join(", ", shape)}) to ({string.Join(", ", padded)})", nameof(padded));
        int rows = shape.Length == 2 ? shape[0] : 1, size = source.DType.SizeOf();
        int from = shape[^1] * size, to = padded[^1] * size;
        var copy = HostTensor.Zeros(source.DType, padded);
        for (int r = 0; r < rows; r++) source.Data.Span.Slice(r * from, from).CopyTo(copy.Data.Span.Slice(r * to, from));
        return Graph.Weight(graphName, copy);
    }

    private string Full(string name) => Prefix.Length == 0 ? name : Prefix + "." + name;
}
