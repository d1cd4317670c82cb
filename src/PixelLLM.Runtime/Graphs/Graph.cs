namespace PixelLLM.Runtime.Graphs;

/// <summary>
/// A define-then-run computation. Model code adds inputs, weights and ops; names intermediates it may want
/// to inspect; marks outputs; then compiles the graph once per shape and runs it many times.
/// </summary>
public sealed partial class Graph
{
    private readonly List<Tensor> tensors = [];
    private readonly List<Node> nodes = [];
    private readonly Dictionary<string, Tensor> byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> outputs = new(StringComparer.Ordinal);
    private readonly Stack<string> scopes = new();

    public IReadOnlyList<Tensor> Tensors => tensors;
    public IReadOnlyList<Node> Nodes => nodes;
    public IReadOnlyDictionary<string, Tensor> Outputs => outputs;
    public IEnumerable<Tensor> Inputs => tensors.Where(t => t.Kind == TensorKind.Input);
    public IEnumerable<Tensor> States => tensors.Where(t => t.Kind == TensorKind.State);

    public Tensor this[string name] =>
        byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"graph has no tensor named '{name}'");

    public bool TryGet(string name, out Tensor tensor) => byName.TryGetValue(name, out tensor!);

    /// <summary>Prefixes names given inside the returned scope with "<paramref name="prefix"/>.".</summary>
    public IDisposable Scope(string prefix)
    {
        scopes.Push(prefix);
        return new ScopeExit(scopes);
    }

    public Tensor Input(string name, DType dtype, params int[] shape) =>
        Register(new Tensor(tensors.Count, new TensorDesc(dtype, new Shape(shape)), TensorKind.Input, null, null, null), name);

    /// <summary>
    /// Adds a persistent state (within the current scope): zero-initialised when the graph is compiled, it keeps its value
    /// across runs. Ops that declare <see cref="Op.InPlaceInput"/> update it; their output is the state itself.
    /// </summary>
    public Tensor State(string name, DType dtype, params int[] shape) =>
        Register(new Tensor(tensors.Count, new TensorDesc(dtype, new Shape(shape)), TensorKind.State, null, null, null), name);

    /// <summary>Adds a weight under its global name (scopes do not apply: weights are shared across modules).</summary>
    public Tensor Weight(string name, HostTensor data) =>
        Register(new Tensor(tensors.Count, data.Desc, TensorKind.Weight, null, null, data), name, qualify: false);

    /// <summary>
    /// The weight a Linear reads: a weight whose data offers a <see cref="HostTensor.LinearForm"/> is replaced by that form
    /// (bound once per graph as "NAME:linear"); any other tensor is returned as it is.
    /// </summary>
    public Tensor LinearWeight(Tensor weight)
    {
        if (weight.Kind != TensorKind.Weight || weight.WeightData?.LinearForm is not { } form) return weight;
        var name = $"{weight.Name}:linear";
        return TryGet(name, out var bound) ? bound : Weight(name, form);
    }

    /// <summary>Adds a node; the output's dtype and shape come from the op's shape rule.</summary>
    public Tensor Apply(Op op, params Tensor[] inputs)
    {
        foreach (var i in inputs)
            if (i.Id >= tensors.Count || !ReferenceEquals(tensors[i.Id], i))
                throw new GraphBuildException($"{op.Name}: operand {i} belongs to another graph");
        var desc = op.InferOutput(inputs.Select(i => i.Desc).ToArray());
        if (op.InPlaceInput >= 0) CheckInPlace(op, inputs, desc);
        if (op.UpdatedInputs.Count > 0) CheckUpdates(op, inputs);
        var node = new Node(nodes.Count, op, inputs, currentLane);
        var output = new Tensor(tensors.Count, desc, TensorKind.Intermediate, null, node, null);
        node.Output = output;
        nodes.Add(node);
        tensors.Add(output);
        return output;
    }

    /// <summary>Names an intermediate (within the current scope) so it can be fetched after a run.</summary>
    public Tensor Name(Tensor t, string name)
    {
        if (t.Name is not null) throw new GraphBuildException($"tensor already named '{t.Name}'");
        return Register(t, name);
    }

    /// <summary>Marks a graph output under a (scoped) name.</summary>
    public Tensor Output(string name, Tensor t)
    {
        var full = Qualify(name);
        if (t.Name is null) Register(t, name);
        if (!outputs.TryAdd(full, t)) throw new GraphBuildException($"output '{full}' defined twice");
        return t;
    }

    private static void CheckInPlace(Op op, Tensor[] inputs, TensorDesc output)
    {
        if (op.InPlaceInput >= inputs.Length) throw new GraphBuildException($"{op.Name}: in-place input {op.InPlaceInput} does not exist");
        var target = inputs[op.InPlaceInput];
        if (target.StorageRoot.Kind == TensorKind.Weight)
            throw new GraphBuildException($"{op.Name}: cannot update weight '{target.StorageRoot.Name}' in place");
        if (output.ByteSize != target.Desc.ByteSize)
            throw new GraphBuildException($"{op.Name}: in-place output {output} does not fit the storage of {target}");
    }

    private static void CheckUpdates(Op op, Tensor[] inputs)
    {
        var roots = new HashSet<Tensor>();
        if (op.InPlaceInput >= 0) roots.Add(inputs[op.InPlaceInput].StorageRoot);
        foreach (int i in op.UpdatedInputs)
        {
            if (i < 0 || i >= inputs.Length) throw new GraphBuildException($"{op.Name}: updated input {i} does not exist");
            var root = inputs[i].StorageRoot;
            if (root.Kind == TensorKind.Weight) throw new GraphBuildException($"{op.Name}: cannot update weight '{root.Name}' in place");
            if (!roots.Add(root)) throw new GraphBuildException($"{op.Name}: input {i} shares its storage with another tensor the op writes");
        }
    }

    private Tensor Register(Tensor t, string name, bool qualify = true)
    {
        var full = qualify ? Qualify(name) : name;
        if (!byName.TryAdd(full, t)) throw new GraphBuildException($"tensor name '{full}' used twice");
        t.Name = full;
        if (t.Id == tensors.Count) tensors.Add(t);
        return t;
    }

    private string Qualify(string name) => scopes.Count == 0 ? name : string.Join('.', scopes.Reverse()) + "." + name;

    private sealed class ScopeExit(Stack<string> scopes) : IDisposable
    {
        private bool done;
        public void Dispose() { if (!done) { scopes.Pop(); done = true; } }
    }
}
