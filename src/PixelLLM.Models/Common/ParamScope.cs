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
    /// The tensors <paramref name="names"/>, each exactly <paramref name="shape"/> (rank 1 or 2), stacked along axis 0
    /// into one weight (one copy per weight source, shared by its graphs): a fused projection from separate ones. Each part
    /// may be zero-padded at the end of each dim to <paramref name="padded"/>, for odd widths carried aligned (zeros add
    /// nothing to any sum). A null name stands for zeros (a bias one projection does not have). Another stored shape →
    /// <see cref="ModelFileException"/> naming the tensor.
    /// </summary>
    public Tensor Stacked(string?[] names, int[] shape, int[]? padded = null)
    {
        padded ??= shape;
        return Derived($"param.{Full(string.Join('+', names.Select(n => n ?? "0")))}:stacked{string.Join('x', padded)}",
            () => Stack(names, shape, padded));
    }

    /// <summary>
    /// The tensor <paramref name="name"/>, <paramref name="parts"/> blocks of <paramref name="shape"/> stacked along axis 0
    /// (a packed projection), with each block zero-padded to <paramref name="padded"/> as <see cref="Stacked"/> pads
    /// separate tensors. Another stored shape → <see cref="ModelFileException"/> naming the tensor.
    /// </summary>
    public Tensor Repacked(string name, int parts, int[] shape, int[] padded) =>
        Derived($"param.{Full(name)}:repacked{parts}x{string.Join('x', padded)}", () =>
        {
            var whole = weights.Get(Full(name));
            var expected = new Shape([shape[0] * parts, .. shape[1..]]);
            if (whole.Shape != expected) throw new ModelFileException($"{Full(name)} is {whole.Shape}, expected {expected}");
            var blocks = Enumerable.Range(0, parts).Select(i => (HostTensor?)Block(whole, i, shape)).ToArray();
            return Stack(blocks, [.. Enumerable.Repeat(name, parts)], shape, padded);
        });

    /// <summary>Block <paramref name="index"/> of <paramref name="shape"/> along axis 0 of <paramref name="whole"/>, copied on first use.</summary>
    private static HostTensor Block(HostTensor whole, int index, int[] shape)
    {
        var desc = new TensorDesc(whole.DType, new Shape(shape));
        var block = HostTensor.Deferred(desc, bytes => whole.Data.Span.Slice(checked((int)(index * desc.ByteSize)), (int)desc.ByteSize).CopyTo(bytes));
        return whole.LinearForm is { } form ? new HostTensor(desc, block.Data) { LinearForm = Block(form, index, shape) } : block;
    }

    /// <summary>
    /// A weight made from stored ones, bound as <paramref name="graphName"/>: one copy per weight source, shared by every
    /// graph built from it (backends upload a weight once per tensor).
    /// </summary>
    private Tensor Derived(string graphName, Func<HostTensor> make)
    {
        if (Graph.TryGet(graphName, out var t)) return t;
        var copies = StackedCopies.GetOrCreateValue(weights);
        lock (copies)
        {
            if (!copies.TryGetValue(graphName, out var copy)) copies[graphName] = copy = make();
            return Graph.Weight(graphName, copy);
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IWeightSource, Dictionary<string, HostTensor>> StackedCopies = new();

    private HostTensor Stack(string?[] names, int[] shape, int[] padded) =>
        Stack([.. names.Select(n => n is null ? null : weights.Get(Full(n)))], names, shape, padded);

    private HostTensor Stack(HostTensor?[] parts, string?[] names, int[] shape, int[] padded)
    {
        if (shape.Length is < 1 or > 2 || padded.Length != shape.Length || Enumerable.Range(0, shape.Length).Any(d => padded[d] < shape[d]))
            throw new ArgumentException($"cannot pad ({string.Join(", ", shape)}) to ({string.Join(", ", padded)})", nameof(padded));
        var expected = new Shape(shape);
        for (int i = 0; i < parts.Length; i++)
            if (parts[i] is { } part && part.Shape != expected)
                throw new ModelFileException($"{Full(names[i]!)} is {part.Shape}, expected ({string.Join(", ", shape)})");
        var dtype = parts.FirstOrDefault(x => x is not null)?.DType ?? DType.F32;
        if (parts.Any(x => x is not null && x.DType != dtype))
            throw new ModelFileException($"{Full(string.Join(", ", names.Where(n => n is not null)))}: the stacked tensors differ in dtype");
        var stacked = Stacked(parts, dtype, shape, padded);
        // Linear weights held in bf16 stay so when stacked: the stacked f32 copy is then made only if an op reads it.
        var forms = parts.Select(x => x?.LinearForm).ToArray();
        return parts.Any(x => x is not null) && parts.All(x => x is null || x.LinearForm is not null)
            ? new HostTensor(stacked.Desc, stacked.Data) { LinearForm = Stacked(forms, forms.First(f => f is not null)!.DType, shape, padded) }
            : stacked;
    }

    /// <summary>
    /// The parts (null: zeros) stacked along axis 0, each zero-padded to <paramref name="padded"/>: a view when they lie
    /// back to back in one mapped file (a model directory stores q, k, v and wi_0, wi_1 so: T5-XL's encoder alone would
    /// otherwise copy 1.5 GB), else a copy made on first use.
    /// </summary>
    private static HostTensor Stacked(HostTensor?[] parts, DType dtype, int[] shape, int[] padded)
    {
        var desc = new TensorDesc(dtype, new Shape([padded[0] * parts.Length, .. padded[1..]]));
        if (shape.AsSpan().SequenceEqual(padded) && parts.All(p => p is not null && p.DType == dtype)
            && UnmanagedMemory.Join([.. parts.Select(p => p!.Data)]) is { } joined)
            return new HostTensor(desc, joined);
        int rows = shape.Length == 2 ? shape[0] : 1, size = dtype.SizeOf();
        int from = shape[^1] * size, to = padded[^1] * size;
        long block = new Shape(padded).ElementCount * size;
        return HostTensor.Deferred(desc, stacked =>
        {
            stacked.Clear();
            for (int i = 0; i < parts.Length; i++)
                for (int r = 0; parts[i] is { } part && r < rows; r++)
                    part.Data.Span.Slice(r * from, from).CopyTo(stacked.Slice(checked((int)(i * block + (long)r * to)), from));
        });
    }

    private string Full(string name) => Prefix.Length == 0 ? name : Prefix + "." + name;
}
