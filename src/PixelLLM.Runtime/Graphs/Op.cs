namespace PixelLLM.Runtime.Graphs;

/// <summary>
/// An operation in a graph: its attributes (the record's fields) and its shape rule.
/// Every backend implements every op under the same name (the record's type name without "Op").
/// </summary>
public abstract record Op
{
    public string Name => GetType().Name.EndsWith("Op", StringComparison.Ordinal) ? GetType().Name[..^2] : GetType().Name;

    /// <summary>The output's dtype and shape for these inputs; throws <see cref="GraphBuildException"/> when they do not fit.</summary>
    public abstract TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs);

    /// <summary>True when the output is a reinterpretation of input 0's storage (no copy, no kernel).</summary>
    public virtual bool IsView => false;

    /// <summary>
    /// Index of the input whose storage the output takes over (−1: none). Unlike a view, the kernel runs: it updates that
    /// storage in place and the output aliases it (the kernel sees the input and the output at the same address).
    /// Nodes run in creation order, so program order decides what a reader sees: nodes created before the in-place node
    /// read the old contents, nodes created after it read the new ones — whichever tensor (input or output) they name.
    /// </summary>
    public virtual int InPlaceInput => -1;

    /// <summary>
    /// Inputs the kernel also writes in place besides its output, e.g. the key and value caches that a decode step's fused
    /// q/k/v projection fills while it returns q. Program order decides what readers see, as for <see cref="InPlaceInput"/>,
    /// and a node with updates always runs. None may be a weight, the output's own storage, or another update's storage.
    /// </summary>
    public virtual IReadOnlyList<int> UpdatedInputs => [];

    /// <summary>
    /// FLOPs and bytes of one application, for profiling; null (default) leaves it to <see cref="Profiling.OpCosts"/>,
    /// which knows the built-in ops. New ops whose cost is not "one operation per output element" override this.
    /// </summary>
    public virtual Profiling.OpCost? Cost(IReadOnlyList<TensorDesc> inputs, TensorDesc output) => null;

    protected GraphBuildException Fail(string what) => new($"{Name}: {what}");

    protected void ExpectInputs(IReadOnlyList<TensorDesc> inputs, int count)
    {
        if (inputs.Count != count) throw Fail($"expected {count} inputs, got {inputs.Count}");
    }

    protected void ExpectDType(TensorDesc d, string operand, params DType[] allowed)
    {
        if (Array.IndexOf(allowed, d.DType) < 0)
            throw Fail($"{operand} must be {string.Join(" or ", allowed)}, got {d}");
    }

    protected void ExpectRank(TensorDesc d, string operand, int min, int max = int.MaxValue)
    {
        if (d.Shape.Rank < min || d.Shape.Rank > max)
            throw Fail($"{operand} rank must be in [{min}, {(max == int.MaxValue ? "any" : max)}], got {d}");
    }
}
