using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// Batched matrix product: a (..., M, K) × b (..., K, N) → (..., M, N), scaled by <see cref="Alpha"/>.
/// Transposes are flags (a stored (..., K, M), b stored (..., N, K)); batch dims broadcast.
/// </summary>
public sealed record MatMulOp(bool TransA = false, bool TransB = false, float Alpha = 1f) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 2);
        var (a, b) = (inputs[0], inputs[1]);
        ExpectDType(a, "a", DType.F32, DType.F16, DType.BF16);
        ExpectDType(b, "b", DType.F32, DType.F16, DType.BF16);
        ExpectRank(a, "a", 2); ExpectRank(b, "b", 2);
        int m = TransA ? a.Shape[-1] : a.Shape[-2], ka = TransA ? a.Shape[-2] : a.Shape[-1];
        int kb = TransB ? b.Shape[-1] : b.Shape[-2], n = TransB ? b.Shape[-2] : b.Shape[-1];
        if (ka != kb) throw Fail($"inner dims differ: a {a.Shape} (transA={TransA}), b {b.Shape} (transB={TransB})");
        var batch = Broadcast.TryShape(new Shape(a.Shape.Dims[..^2].ToArray()), new Shape(b.Shape.Dims[..^2].ToArray()))
            ?? throw Fail($"batch dims of {a.Shape} and {b.Shape} do not broadcast");
        return new TensorDesc(a.DType, new Shape([.. batch.Dims, m, n]));
    }
}

/// <summary>
/// x (..., In) · wᵀ [+ b] [+ residual] with w stored (Out, In) as in PyTorch. Inputs: x, w, then the bias and the residual
/// (shaped like the output) when present. The residual is the transformer's skip connection added in the product's
/// epilogue, so a decode step's projection and its Add are one launch.
/// </summary>
public sealed record LinearOp(bool HasBias, bool HasResidual = false) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 2 + (HasBias ? 1 : 0) + (HasResidual ? 1 : 0));
        var (x, w) = (inputs[0], inputs[1]);
        ExpectRank(x, "x", 1); ExpectRank(w, "weight", 2, 2);
        if (x.Shape[-1] != w.Shape[1]) throw Fail($"x {x.Shape} last dim != weight {w.Shape} in-features");
        if (HasBias && (inputs[2].Shape.Rank != 1 || inputs[2].Shape[0] != w.Shape[0]))
            throw Fail($"bias {inputs[2].Shape} must be ({w.Shape[0]})");
        var output = new TensorDesc(x.DType, x.Shape.With(-1, w.Shape[0]));
        if (HasResidual && inputs[^1] != output) throw Fail($"residual {inputs[^1]} must be the output's {output}");
        return output;
    }
}

/// <summary>
/// G separate projections in one op, one per group: x (..., G, In), w (G·Out, In) — the G weights (Out, In) stacked —
/// and an optional bias (G·Out) → (..., G, Out), where group g of every row is x[..., g, :] · w_gᵀ [+ b_g]. The prompt
/// adapter's K output projections (one Dense per learned query) are one strided-batched GEMM this way instead of K
/// slices, K products and a concat.
/// </summary>
public sealed record GroupedLinearOp(bool HasBias) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, HasBias ? 3 : 2);
        var (x, w) = (inputs[0], inputs[1]);
        ExpectRank(x, "x", 2); ExpectRank(w, "weight", 2, 2);
        int groups = x.Shape[-2];
        if (groups < 1 || w.Shape[0] % groups != 0) throw Fail($"weight {w.Shape} rows must be {groups} (groups, x's axis −2) equal blocks");
        if (x.Shape[-1] != w.Shape[1]) throw Fail($"x {x.Shape} last dim != weight {w.Shape} in-features");
        if (HasBias && (inputs[2].Shape.Rank != 1 || inputs[2].Shape[0] != w.Shape[0]))
            throw Fail($"bias {inputs[2].Shape} must be ({w.Shape[0]})");
        return new TensorDesc(x.DType, x.Shape.With(-1, w.Shape[0] / groups));
    }
}

/// <summary>
/// T5's pre-norm projection: RmsNorm(x; normWeight, Eps) · wᵀ, inputs x (..., In), normWeight (In), w (Out, In). One op so
/// a decode step normalises inside the projection (gemv.cu's prologue) instead of launching RmsNorm before q, k and v.
/// </summary>
public sealed record RmsNormLinearOp(float Eps) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 3);
        var (x, g, w) = (inputs[0], inputs[1], inputs[2]);
        ExpectRank(x, "x", 1); ExpectRank(w, "weight", 2, 2);
        if (g.ElementCount != x.Shape[-1]) throw Fail($"norm weight {g.Shape} must have {x.Shape[-1]} elements");
        if (x.Shape[-1] != w.Shape[1]) throw Fail($"x {x.Shape} last dim != weight {w.Shape} in-features");
        return new TensorDesc(x.DType, x.Shape.With(-1, w.Shape[0]));
    }
}

/// <summary>
/// The first half of T5's gated feed-forward: n = RmsNorm(x; normWeight, Eps), y = gelu_tanh(n · wᵀ) ⊙ (n · upᵀ). Inputs x
/// (..., In), normWeight (In), w and up (Hidden, In); output (..., Hidden). One op so a decode step makes wi_0, wi_1 and
/// the GeGLU one launch (gemv.cu reads both weights' columns in the same pass).
/// </summary>
public sealed record RmsNormGeGluOp(float Eps) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 4);
        var (x, g, w, up) = (inputs[0], inputs[1], inputs[2], inputs[3]);
        ExpectRank(x, "x", 1); ExpectRank(w, "weight", 2, 2);
        if (g.ElementCount != x.Shape[-1]) throw Fail($"norm weight {g.Shape} must have {x.Shape[-1]} elements");
        if (x.Shape[-1] != w.Shape[1]) throw Fail($"x {x.Shape} last dim != weight {w.Shape} in-features");
        if (up != w) throw Fail($"up weight {up} must match the gate weight {w}");
        return new TensorDesc(x.DType, x.Shape.With(-1, w.Shape[0]));
    }
}

/// <summary>
/// 2-D convolution on channels-last input x (B, H, W, Cin) with weight (Cout, Cin, kh, kw) as in PyTorch;
/// zero padding; output (B, Ho, Wo, Cout).
/// </summary>
public sealed record Conv2dOp(int StrideH, int StrideW, int PadH, int PadW, bool HasBias) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, HasBias ? 3 : 2);
        var (x, w) = (inputs[0], inputs[1]);
        ExpectRank(x, "x", 4, 4); ExpectRank(w, "weight", 4, 4);
        if (x.Shape[3] != w.Shape[1]) throw Fail($"x {x.Shape} channels != weight {w.Shape} in-channels");
        if (StrideH < 1 || StrideW < 1 || PadH < 0 || PadW < 0) throw Fail("stride must be >= 1 and padding >= 0");
        int ho = (x.Shape[1] + 2 * PadH - w.Shape[2]) / StrideH + 1;
        int wo = (x.Shape[2] + 2 * PadW - w.Shape[3]) / StrideW + 1;
        if (ho < 1 || wo < 1) throw Fail($"kernel {w.Shape} larger than padded input {x.Shape}");
        if (HasBias && inputs[2].ElementCount != w.Shape[0]) throw Fail($"bias {inputs[2].Shape} must be ({w.Shape[0]})");
        return new TensorDesc(x.DType, new Shape(x.Shape[0], ho, wo, w.Shape[0]));
    }
}

/// <summary>
/// Transposed 2-D convolution (no padding) on channels-last x (B, H, W, Cin) with weight (Cin, Cout, kh, kw)
/// as in PyTorch's ConvTranspose2d; output (B, (H−1)·s + kh, (W−1)·s + kw, Cout).
/// </summary>
public sealed record ConvTranspose2dOp(int Stride, bool HasBias) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, HasBias ? 3 : 2);
        var (x, w) = (inputs[0], inputs[1]);
        ExpectRank(x, "x", 4, 4); ExpectRank(w, "weight", 4, 4);
        if (x.Shape[3] != w.Shape[0]) throw Fail($"x {x.Shape} channels != weight {w.Shape} in-channels");
        if (HasBias && inputs[2].ElementCount != w.Shape[1]) throw Fail($"bias {inputs[2].Shape} must be ({w.Shape[1]})");
        return new TensorDesc(x.DType, new Shape(x.Shape[0], (x.Shape[1] - 1) * Stride + w.Shape[2], (x.Shape[2] - 1) * Stride + w.Shape[3], w.Shape[1]));
    }
}


public static partial class GraphOps
{
    public static Tensor MatMul(this Graph g, Tensor a, Tensor b, bool transA = false, bool transB = false, float alpha = 1f) =>
        g.Apply(new MatMulOp(transA, transB, alpha), a, b);

    /// <summary>x · weightᵀ [+ bias] [+ residual]; the residual add happens in the product's epilogue.</summary>
    public static Tensor Linear(this Graph g, Tensor x, Tensor weight, Tensor? bias = null, Tensor? residual = null)
    {
        var op = new LinearOp(bias is not null, residual is not null);
        weight = g.LinearWeight(weight);
        Tensor[] inputs = (bias, residual) switch
        {
            (null, null) => [x, weight],
            (not null, null) => [x, weight, bias],
            (null, not null) => [x, weight, residual],
            _ => [x, weight, bias!, residual!],
        };
        return g.Apply(op, inputs);
    }

    /// <summary>Per-group projections x[..., g, :] · w_gᵀ [+ b_g] (see <see cref="GroupedLinearOp"/>).</summary>
    public static Tensor GroupedLinear(this Graph g, Tensor x, Tensor weight, Tensor? bias = null) =>
        bias is null ? g.Apply(new GroupedLinearOp(false), x, g.LinearWeight(weight)) : g.Apply(new GroupedLinearOp(true), x, g.LinearWeight(weight), bias);

    /// <summary>RmsNorm(x; normWeight, eps) · weightᵀ as one op (T5's pre-norm projections in a decode step).</summary>
    public static Tensor RmsNormLinear(this Graph g, Tensor x, Tensor normWeight, float eps, Tensor weight) =>
        g.Apply(new RmsNormLinearOp(eps), x, normWeight, g.LinearWeight(weight));

    /// <summary>gelu_tanh(RmsNorm(x)·weightᵀ) ⊙ (RmsNorm(x)·upᵀ) as one op (see <see cref="RmsNormGeGluOp"/>).</summary>
    public static Tensor RmsNormGeGlu(this Graph g, Tensor x, Tensor normWeight, float eps, Tensor weight, Tensor up) =>
        g.Apply(new RmsNormGeGluOp(eps), x, normWeight, g.LinearWeight(weight), g.LinearWeight(up));

    public static Tensor Conv2d(this Graph g, Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0) =>
        bias is null ? g.Apply(new Conv2dOp(stride, stride, padding, padding, false), x, weight)
                     : g.Apply(new Conv2dOp(stride, stride, padding, padding, true), x, weight, bias);

    public static Tensor ConvTranspose2d(this Graph g, Tensor x, Tensor weight, Tensor? bias = null, int stride = 2) =>
        bias is null ? g.Apply(new ConvTranspose2dOp(stride, false), x, weight)
                     : g.Apply(new ConvTranspose2dOp(stride, true), x, weight, bias);
}
