namespace PixelLLM.Runtime.Graphs;

/// <summary>Where a graph tensor's value comes from.</summary>
public enum TensorKind { Input, Weight, Intermediate }

/// <summary>A value in a graph: described, not yet computed.</summary>
public sealed class Tensor
{
    internal Tensor(int id, TensorDesc desc, TensorKind kind, string? name, Node? producer, HostTensor? weight)
    {
        Id = id; Desc = desc; Kind = kind; Name = name; Producer = producer; WeightData = weight;
    }

    public int Id { get; }
    public TensorDesc Desc { get; }
    public TensorKind Kind { get; }
    /// <summary>Unique name within the graph, or null for anonymous intermediates.</summary>
    public string? Name { get; internal set; }
    public Node? Producer { get; }
    public HostTensor? WeightData { get; }
    public Shape Shape => Desc.Shape;
    public DType DType => Desc.DType;

    public override string ToString() => $"{Name ?? "%" + Id}: {Desc}";
}

/// <summary>One op applied to input tensors, producing one output tensor.</summary>
public sealed class Node
{
    internal Node(int id, Op op, Tensor[] inputs) { Id = id; Op = op; Inputs = inputs; }

    public int Id { get; }
    public Op Op { get; }
    public IReadOnlyList<Tensor> Inputs { get; }
    public Tensor Output { get; internal set; } = null!;

    public override string ToString() => $"{Output} = {Op.Name}({string.Join(", ", Inputs.Select(i => i.Name ?? "%" + i.Id))})";
}
