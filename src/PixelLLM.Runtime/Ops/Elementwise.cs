using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

public enum UnaryKind { Relu, Gelu, GeluTanh, Silu, Sigmoid, Tanh, Exp, Neg, Sqrt, Abs }

public enum BinaryKind { Add, Sub, Mul, Div, Max, Min }

/// <summary>Elementwise f(x). Gelu is the exact erf form; GeluTanh the tanh approximation.</summary>
public sealed record UnaryOp(UnaryKind Kind) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectDType(inputs[0], "x", DType.F32, DType.F16, DType.BF16);
        return inputs[0];
    }
}

/// <summary>Elementwise a ∘ b with NumPy broadcasting.</summary>
public sealed record BinaryOp(BinaryKind Kind) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 2);
        if (inputs[0].DType != inputs[1].DType) throw Fail($"dtypes differ: {inputs[0]} vs {inputs[1]}");
        var shape = Broadcast.TryShape(inputs[0].Shape, inputs[1].Shape)
            ?? throw Fail($"shapes {inputs[0].Shape} and {inputs[1].Shape} do not broadcast");
        return new TensorDesc(inputs[0].DType, shape);
    }
}

/// <summary>x · Scale + Shift.</summary>
public sealed record ScaleOp(float Scale, float Shift = 0f) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        return inputs[0];
    }
}

/// <summary>
/// SwiGLU: silu(gate) · x, same shapes. <see cref="Packed"/>: one input (..., 2·W) whose rows hold gate | x side by side
/// (one GEMM over the stacked gate and value weights) → (..., W).
/// </summary>
public sealed record SwiGluOp(bool Packed = false) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs) => GatedUnit.Output(inputs, Packed, Fail);
}

/// <summary>
/// GeGLU as T5 v1.1 gates its feed-forward: y = gelu_tanh(gate) · x elementwise, one pass instead of two.
/// <see cref="Packed"/>: gate | x side by side in rows of (..., 2·W), as for <see cref="SwiGluOp"/>.
/// </summary>
public sealed record GeGluOp(bool Packed = false) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs) => GatedUnit.Output(inputs, Packed, Fail);
}

/// <summary>The shape rule of the gated units: (gate, x) of one shape, or one packed (..., 2·W) → (..., W).</summary>
internal static class GatedUnit
{
    public static TensorDesc Output(IReadOnlyList<TensorDesc> inputs, bool packed, Func<string, GraphBuildException> fail)
    {
        if (!packed)
        {
            if (inputs.Count != 2) throw fail($"expected 2 inputs (gate, x), got {inputs.Count}");
            if (inputs[0] != inputs[1]) throw fail($"gate {inputs[0]} and x {inputs[1]} differ");
            return inputs[0];
        }
        if (inputs.Count != 1) throw fail($"expected 1 input (gate | x), got {inputs.Count}");
        var dims = inputs[0].Shape.ToArray();
        if (dims.Length < 1 || dims[^1] % 2 != 0) throw fail($"packed gate | x {inputs[0]} must have an even last dim");
        dims[^1] /= 2;
        return new TensorDesc(inputs[0].DType, new Shape(dims));
    }
}

/// <summary>Converts between dtypes (floats round to nearest even; float → int truncates toward zero).</summary>
public sealed record CastOp(DType To) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1);
        return inputs[0] with { DType = To };
    }
}

public static partial class GraphOps
{
    public static Tensor Unary(this Graph g, UnaryKind kind, Tensor x) => g.Apply(new UnaryOp(kind), x);
    public static Tensor Relu(this Graph g, Tensor x) => g.Unary(UnaryKind.Relu, x);
    public static Tensor Gelu(this Graph g, Tensor x, bool tanhApproximation = false) =>
        g.Unary(tanhApproximation ? UnaryKind.GeluTanh : UnaryKind.Gelu, x);
    public static Tensor Silu(this Graph g, Tensor x) => g.Unary(UnaryKind.Silu, x);
    public static Tensor Sigmoid(this Graph g, Tensor x) => g.Unary(UnaryKind.Sigmoid, x);
    public static Tensor Tanh(this Graph g, Tensor x) => g.Unary(UnaryKind.Tanh, x);

    public static Tensor Add(this Graph g, Tensor a, Tensor b) => g.Apply(new BinaryOp(BinaryKind.Add), a, b);
    public static Tensor Sub(this Graph g, Tensor a, Tensor b) => g.Apply(new BinaryOp(BinaryKind.Sub), a, b);
    public static Tensor Mul(this Graph g, Tensor a, Tensor b) => g.Apply(new BinaryOp(BinaryKind.Mul), a, b);
    public static Tensor Div(this Graph g, Tensor a, Tensor b) => g.Apply(new BinaryOp(BinaryKind.Div), a, b);
    public static Tensor Scale(this Graph g, Tensor x, float scale, float shift = 0f) => g.Apply(new ScaleOp(scale, shift), x);
    public static Tensor SwiGlu(this Graph g, Tensor gate, Tensor x) => g.Apply(new SwiGluOp(), gate, x);

    /// <summary>silu(gate) · x of rows that hold gate | x side by side (see <see cref="SwiGluOp.Packed"/>).</summary>
    public static Tensor PackedSwiGlu(this Graph g, Tensor gateAndX) => g.Apply(new SwiGluOp(Packed: true), gateAndX);

    public static Tensor GeGlu(this Graph g, Tensor gate, Tensor x) => g.Apply(new GeGluOp(), gate, x);

    /// <summary>gelu_tanh(gate) · x of rows that hold gate | x side by side (see <see cref="GeGluOp.Packed"/>).</summary>
    public static Tensor PackedGeGlu(this Graph g, Tensor gateAndX) => g.Apply(new GeGluOp(Packed: true), gateAndX);
    public static Tensor Cast(this Graph g, Tensor x, DType to) => g.Apply(new CastOp(to), x);
}
