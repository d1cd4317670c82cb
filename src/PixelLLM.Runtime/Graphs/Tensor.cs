namespace PixelLLM.Runtime.Graphs;

/// <summary>Where a graph tensor's value comes from.</summary>
public enum TensorKind
{
    /// <summary>Set by the host before a run; lives in the arena, so it must be set again before every run.</summary>
    Input,
    /// <summary>Constant data bound at build time.</summary>
    Weight,
    /// <summary>Produced by a node.</summary>
    Intermediate,
    /// <summary>
    /// Persistent storage owned by the executor outside the arena: zero at compile, kept across runs, settable and fetchable
    /// by name, updated by in-place ops (<see cref="Op.InPlaceInput"/>) — e.g. a decoder's KV cache.
    /// </summary>
    State,
}

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

    /// <summary>
    /// The tensor that owns this tensor's bytes: itself, or the source its chain of views and in-place updates starts from
    /// (an input, a weight, a state or a plain intermediate).
    /// </summary>
    public Tensor StorageRoot
    {
        get
        {
            var t = this;
            while (t.Producer is { } p)
            {
                if (p.Op.IsView) t = p.Inputs[0];
                else if (p.Op.InPlaceInput >= 0) t = p.Inputs[p.Op.InPlaceInput];
                else break;
            }
            return t;
        }
    }

    public override string ToString() => $"{Name ?? "%" + Id}: {Desc}";
}

/// <summary>One op applied to input tensors, producing one output tensor.</summary>
public sealed class Node
{
    internal Node(int id, Op op, Tensor[] inputs, int lane = 0) { Id = id; Op = op; Inputs = inputs; Lane = lane; }

    public int Id { get; }
    /// <summary>0, or 1 for a node added on the side lane (<see cref="Graph.OnSideLane"/>).</summary>
    public int Lane { get; }
    public Op Op { get; }
    public IReadOnlyList<Tensor> Inputs { get; }
    public Tensor Output { get; internal set; } = null!;

    public override string ToString() => $"{Output} = {Op.Name}({string.Join(", ", Inputs.Select(i => i.Name ?? "%" + i.Id))})";
}
