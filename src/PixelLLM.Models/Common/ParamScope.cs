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

    /// <summary>
    /// The tensors <paramref name="names"/>, each exactly <paramref name="shape"/>, stacked along axis 0 into one weight
    /// (one copy per graph): a fused projection from separate ones. A null name stands for zeros of that shape (a bias one
    /// projection does not have). Another stored shape → <see cref="ModelFileException"/> naming the tensor.
    /// </summary>
    public Tensor Stacked(string?[] names, int[] shape)
    {
        var graphName = $"param.{Full(string.Join('+', names.Select(n => n ?? "0")))}:stacked";
        if (Graph.TryGet(graphName, out var t)) return t;
        var parts = names.Select(n => n is null ? null : weights.Get(Full(n))).ToArray();
        var expected = new Shape(shape);
        for (int i = 0; i < parts.Length; i++)
            if (parts[i] is { } part && part.Shape != expected)
                throw new ModelFileException($"{Full(names[i]!)} is {part.Shape}, expected ({string.Join(", ", shape)})");
        var dtype = parts.FirstOrDefault(x => x is not null)?.DType ?? DType.F32;
        if (parts.Any(x => x is not null && x.DType != dtype))
            throw new ModelFileException($"{Full(names[0] ?? "")}: the stacked tensors {string.Join(", ", names)} differ in dtype");
        int[] stackedShape = [shape[0] * parts.Length, .. shape[1..]];
        var stacked = HostTensor.Zeros(dtype, stackedShape);
        long bytes = expected.ElementCount * dtype.SizeOf();
        for (int i = 0; i < parts.Length; i++)
            parts[i]?.Data.Span.CopyTo(stacked.Data.Span.Slice(checked((int)(i * bytes)), checked((int)bytes)));
        return Graph.Weight(graphName, stacked);
    }

    private string Full(string name) => Prefix.Length == 0 ? name : Prefix + "." + name;
}
