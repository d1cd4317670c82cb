using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// In-place write along one axis: inputs (x, values, position I32 (1)); values has x's dtype and rank and equals x in every
/// dim except Axis, where it has n ≤ x's size. Writes values into x at [position, position + n) along Axis and returns x
/// updated in place (typically a state, e.g. a KV cache (R, Lmax, C) with Axis 1). Everything outside the window is
/// untouched. A position with position &lt; 0 or position + n beyond the axis → <see cref="InvalidInputException"/> at run
/// time, before anything is written.
/// </summary>
public sealed record WriteAtOp(int Axis) : Op
{
    public override int InPlaceInput => 0;

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 3);
        var (x, values, position) = (inputs[0], inputs[1], inputs[2]);
        ExpectRank(x, "x", 1);
        if (Axis < -x.Shape.Rank || Axis >= x.Shape.Rank) throw Fail($"axis {Axis} out of range for {x}");
        int a = x.Shape.NormalizeAxis(Axis);
        if (values.DType != x.DType || values.Shape.Rank != x.Shape.Rank) throw Fail($"values {values} must have the dtype and rank of x {x}");
        for (int i = 0; i < x.Shape.Rank; i++)
            if (i == a ? values.Shape[i] > x.Shape[i] : values.Shape[i] != x.Shape[i])
                throw Fail($"values {values.Shape} do not fit x {x.Shape} along axis {a}");
        ExpectDType(position, "position", DType.I32);
        if (position.Shape != new Shape(1)) throw Fail($"position must be I32 (1), got {position}");
        return x;
    }
}

/// <summary>
/// In-place row permutation/gather along axis 0: inputs (x (R, ...), rows I32 (R)); afterwards x[r] holds what x[rows[r]]
/// held before (rows may repeat: beam search continues one row several times). Returns x updated in place. An index
/// outside [0, R) → <see cref="InvalidInputException"/> at run time, before anything is written.
/// </summary>
public sealed record ReorderRowsOp : Op
{
    public override int InPlaceInput => 0;

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 2);
        var (x, rows) = (inputs[0], inputs[1]);
        ExpectRank(x, "x", 1);
        ExpectDType(rows, "rows", DType.I32);
        if (rows.Shape != new Shape(x.Shape[0])) throw Fail($"rows must be I32 ({x.Shape[0]}) for x {x}, got {rows}");
        return x;
    }
}

/// <summary>
/// A decode step's key or value projection written straight into its cache: RmsNorm(x; normWeight, Eps) · wᵀ for x
/// (R, 1, In), stored at [position] along axis 1 of the cache (R, Lmax, Out), in place. RmsNormLinear then WriteAt as one
/// op: the projection needs no buffer of its own and the step no copy launch. Inputs (cache, x, normWeight (In),
/// w (Out, In), position I32 (1)); returns the cache. A position outside [0, Lmax) → <see cref="InvalidInputException"/>
/// at run time, before anything is written.
/// </summary>
public sealed record CacheProjectionOp(float Eps) : Op
{
    public override int InPlaceInput => 0;

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 5);
        var (cache, x, g, w, position) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]);
        ExpectRank(cache, "cache", 3, 3); ExpectRank(x, "x", 3, 3); ExpectRank(w, "weight", 2, 2);
        if (x.DType != cache.DType) throw Fail($"x {x} must have the cache's dtype {cache.DType}");
        if (x.Shape[0] != cache.Shape[0] || x.Shape[1] != 1) throw Fail($"x {x.Shape} must be ({cache.Shape[0]}, 1, In) for cache {cache.Shape}");
        if (g.ElementCount != x.Shape[2]) throw Fail($"norm weight {g.Shape} must have {x.Shape[2]} elements");
        if (w.Shape[1] != x.Shape[2] || w.Shape[0] != cache.Shape[2]) throw Fail($"weight {w.Shape} must be ({cache.Shape[2]}, {x.Shape[2]})");
        ExpectDType(position, "position", DType.I32);
        if (position.Shape != new Shape(1)) throw Fail($"position must be I32 (1), got {position}");
        return cache;
    }
}

public static partial class GraphOps
{
    /// <summary>RmsNorm(x)·weightᵀ written into <paramref name="cache"/> at <paramref name="position"/> (see <see cref="CacheProjectionOp"/>).</summary>
    public static Tensor CacheProjection(this Graph g, Tensor cache, Tensor x, Tensor normWeight, float eps, Tensor weight, Tensor position) =>
        g.Apply(new CacheProjectionOp(eps), cache, x, normWeight, weight, position);

    public static Tensor WriteAt(this Graph g, Tensor x, Tensor values, Tensor position, int axis) =>
        g.Apply(new WriteAtOp(axis), x, values, position);

    public static Tensor ReorderRows(this Graph g, Tensor x, Tensor rows) => g.Apply(new ReorderRowsOp(), x, rows);
}
