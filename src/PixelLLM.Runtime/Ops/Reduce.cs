using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>Softmax over the last dim (max-subtracted).</summary>
public sealed record SoftmaxOp : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs) { ExpectInputs(inputs, 1); ExpectRank(inputs[0], "x", 1); return inputs[0]; }
}

/// <summary>log(softmax(x)) over the last dim, computed as x − max − log Σ exp(x − max).</summary>
public sealed record LogSoftmaxOp : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs) { ExpectInputs(inputs, 1); ExpectRank(inputs[0], "x", 1); return inputs[0]; }
}

/// <summary>Index of the maximum over the last dim (first one on ties) → I32 (...).</summary>
public sealed record ArgMaxOp : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1); ExpectRank(inputs[0], "x", 1);
        return new TensorDesc(DType.I32, new Shape(inputs[0].Shape.Dims[..^1].ToArray()));
    }
}

/// <summary>Indices of the K largest values over the last dim, largest first, lower index first on ties → I32 (..., K).</summary>
public sealed record TopKOp(int K) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1); ExpectRank(inputs[0], "x", 1);
        if (K < 1 || K > inputs[0].Shape[-1]) throw Fail($"k={K} outside [1, {inputs[0].Shape[-1]}]");
        return new TensorDesc(DType.I32, inputs[0].Shape.With(-1, K));
    }
}

/// <summary>out[..., j] = x[..., idx[..., j]] (take along the last axis); idx is I32 with x's leading dims.</summary>
public sealed record TakeAlongLastOp : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 2);
        var (x, idx) = (inputs[0], inputs[1]);
        ExpectDType(idx, "indices", DType.I32);
        if (x.Shape.Rank != idx.Shape.Rank || !x.Shape.Dims[..^1].SequenceEqual(idx.Shape.Dims[..^1]))
            throw Fail($"indices {idx.Shape} must match x {x.Shape} except in the last dim");
        return new TensorDesc(x.DType, idx.Shape);
    }
}

/// <summary>Mean over one axis.</summary>
public sealed record ReduceMeanOp(int Axis, bool KeepDim = false) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        int a = inputs[0].Shape.NormalizeAxis(Axis);
        var dims = inputs[0].Shape.ToArray().ToList();
        if (KeepDim) dims[a] = 1; else dims.RemoveAt(a);
        return new TensorDesc(inputs[0].DType, new Shape([.. dims]));
    }
}

/// <summary>Maximum over one axis (torch.amax: a NaN among the values gives NaN); an empty axis is refused.</summary>
public sealed record ReduceMaxOp(int Axis, bool KeepDim = false) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        int a = inputs[0].Shape.NormalizeAxis(Axis);
        if (inputs[0].Shape[a] == 0) throw Fail($"no maximum over an empty axis {a} of {inputs[0].Shape}");
        var dims = inputs[0].Shape.ToArray().ToList();
        if (KeepDim) dims[a] = 1; else dims.RemoveAt(a);
        return new TensorDesc(inputs[0].DType, new Shape([.. dims]));
    }
}

/// <summary>Row gather: table (V, D), ids I32/I64 (...) → (..., D). Ids outside [0, V) fail at run time.</summary>
public sealed record EmbeddingOp : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 2);
        ExpectRank(inputs[0], "table", 2, 2);
        ExpectDType(inputs[1], "ids", DType.I32, DType.I64);
        return new TensorDesc(inputs[0].DType, new Shape([.. inputs[1].Shape.Dims, inputs[0].Shape[1]]));
    }
}

public static partial class GraphOps
{
    public static Tensor Softmax(this Graph g, Tensor x) => g.Apply(new SoftmaxOp(), x);
    public static Tensor LogSoftmax(this Graph g, Tensor x) => g.Apply(new LogSoftmaxOp(), x);
    public static Tensor ArgMax(this Graph g, Tensor x) => g.Apply(new ArgMaxOp(), x);
    public static Tensor TopK(this Graph g, Tensor x, int k) => g.Apply(new TopKOp(k), x);
    public static Tensor TakeAlongLast(this Graph g, Tensor x, Tensor indices) => g.Apply(new TakeAlongLastOp(), x, indices);
    public static Tensor ReduceMean(this Graph g, Tensor x, int axis, bool keepDim = false) => g.Apply(new ReduceMeanOp(axis, keepDim), x);
    public static Tensor ReduceMax(this Graph g, Tensor x, int axis, bool keepDim = false) => g.Apply(new ReduceMaxOp(axis, keepDim), x);
    public static Tensor Embedding(this Graph g, Tensor table, Tensor ids) => g.Apply(new EmbeddingOp(), table, ids);
}
