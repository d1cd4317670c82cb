using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>Layer norm over the last dim: (x − mean)/√(var + eps) · weight + bias (biased variance).</summary>
/// <remarks>
/// <see cref="Width"/> &gt; 0 marks rows padded to an aligned length (EVA02's 2730-wide MLP stored 2736 wide, so GEMMs
/// and vector loads see aligned rows): only the first Width elements are normalised (weight and bias have Width
/// elements) and the padding is written as zeros, so the padded product that follows adds nothing.
/// </remarks>
public sealed record LayerNormOp(float Eps, bool HasWeight = true, bool HasBias = true, int Width = 0) : Op
{
    /// <summary>The elements of each row that are normalised: <see cref="Width"/>, or the whole row.</summary>
    public int NormalizedWidth(int rowLength) => Width > 0 ? Width : rowLength;

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1 + (HasWeight ? 1 : 0) + (HasBias ? 1 : 0));
        ExpectRank(inputs[0], "x", 1);
        int rowLength = inputs[0].Shape[-1];
        if (Width < 0 || Width > rowLength) throw Fail($"width {Width} must be in [1, {rowLength}] (0: the whole row)");
        int c = NormalizedWidth(rowLength);
        for (int i = 1; i < inputs.Count; i++)
            if (inputs[i].ElementCount != c) throw Fail($"scale/bias {inputs[i].Shape} must have {c} elements");
        return inputs[0];
    }
}

/// <summary>SAM's LayerNorm2d: layer norm over the channel dim 1 of an NCHW tensor, per-channel weight and bias.</summary>
public sealed record LayerNorm2dOp(float Eps) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 3);
        ExpectRank(inputs[0], "x", 4, 4);
        int c = inputs[0].Shape[1];
        if (inputs[1].ElementCount != c || inputs[2].ElementCount != c) throw Fail($"weight/bias must have {c} elements");
        return inputs[0];
    }
}

/// <summary>RMS norm over the last dim (T5): x / √(mean(x²) + eps) · weight; no mean, no bias.</summary>
public sealed record RmsNormOp(float Eps) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 2);
        ExpectRank(inputs[0], "x", 1);
        if (inputs[1].ElementCount != inputs[0].Shape[-1]) throw Fail($"weight {inputs[1].Shape} must have {inputs[0].Shape[-1]} elements");
        return inputs[0];
    }
}

/// <summary>Group norm on channels-last x (B, ..., C): statistics per (batch, group) over all positions and the group's channels.</summary>
public sealed record GroupNormOp(int Groups, float Eps) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 3);
        ExpectRank(inputs[0], "x", 2);
        int c = inputs[0].Shape[-1];
        if (Groups < 1 || c % Groups != 0) throw Fail($"{c} channels not divisible into {Groups} groups");
        if (inputs[1].ElementCount != c || inputs[2].ElementCount != c) throw Fail($"weight/bias must have {c} elements");
        return inputs[0];
    }
}

public static partial class GraphOps
{
    /// <summary>LayerNorm over the last dim; <paramref name="width"/> &gt; 0: of padded rows (see <see cref="LayerNormOp"/>).</summary>
    public static Tensor LayerNorm(this Graph g, Tensor x, Tensor? weight, Tensor? bias, float eps, int width = 0)
    {
        var inputs = new List<Tensor> { x };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        return g.Apply(new LayerNormOp(eps, weight is not null, bias is not null, width), [.. inputs]);
    }

    public static Tensor LayerNorm2d(this Graph g, Tensor x, Tensor weight, Tensor bias, float eps) =>
        g.Apply(new LayerNorm2dOp(eps), x, weight, bias);

    public static Tensor RmsNorm(this Graph g, Tensor x, Tensor weight, float eps) => g.Apply(new RmsNormOp(eps), x, weight);

    public static Tensor GroupNorm(this Graph g, Tensor x, Tensor weight, Tensor bias, int groups, float eps) =>
        g.Apply(new GroupNormOp(groups, eps), x, weight, bias);
}
