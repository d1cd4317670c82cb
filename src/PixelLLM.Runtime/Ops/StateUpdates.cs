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

public static partial class GraphOps
{
    public static Tensor WriteAt(this Graph g, Tensor x, Tensor values, Tensor position, int axis) =>
        g.Apply(new WriteAtOp(axis), x, values, position);

    public static Tensor ReorderRows(this Graph g, Tensor x, Tensor rows) => g.Apply(new ReorderRowsOp(), x, rows);
}
