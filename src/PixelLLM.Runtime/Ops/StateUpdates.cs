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
/// held before (rows may repeat: beam search continues one row several times). Returns x updated in place. With
/// <see cref="Tensors"/> = T &gt; 1 the inputs are (x_0, rows, x_1, …, x_{T−1}), every x_i like x_0, all reordered by the
/// same rows: x_0 is returned updated, the others are updated in place (<see cref="Op.UpdatedInputs"/>) — a beam step's
/// every KV cache in one op (one launch pair on CUDA instead of one per cache). With <see cref="ValidPrefix"/> a last
/// input limit I32 (1) follows and only the first limit entries along axis 1 of each row move (x rank ≥ 2; a limit
/// outside [0, x.Shape[1]] is clamped to it): a cache (R, Lmax, C) whose slots from the step's position on hold nothing
/// yet is reordered at the cost of its filled prefix, and each row's later entries stay as they were (stale: read them
/// only after writing them). An index outside [0, R) → <see cref="InvalidInputException"/> at run time, before
/// anything is written.
/// </summary>
public sealed record ReorderRowsOp(int Tensors = 1, bool ValidPrefix = false) : Op
{
    public override int InPlaceInput => 0;

    public override IReadOnlyList<int> UpdatedInputs => Tensors > 1 ? [.. Enumerable.Range(2, Tensors - 1)] : [];

    /// <summary>The input index of the limit (when <see cref="ValidPrefix"/>).</summary>
    public int LimitInput => Tensors + 1;

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        if (Tensors < 1) throw Fail($"needs at least one tensor, got {Tensors}");
        ExpectInputs(inputs, Tensors + 1 + (ValidPrefix ? 1 : 0));
        var (x, rows) = (inputs[0], inputs[1]);
        ExpectRank(x, "x", ValidPrefix ? 2 : 1);
        ExpectDType(rows, "rows", DType.I32);
        if (rows.Shape != new Shape(x.Shape[0])) throw Fail($"rows must be I32 ({x.Shape[0]}) for x {x}, got {rows}");
        for (int i = 2; i < Tensors + 1; i++)
            if (inputs[i] != x) throw Fail($"tensor {i - 1} {inputs[i]} must be like the first, {x}");
        if (ValidPrefix)
        {
            var limit = inputs[LimitInput];
            ExpectDType(limit, "limit", DType.I32);
            if (limit.Shape != new Shape(1)) throw Fail($"limit must be I32 (1), got {limit}");
        }
        return x;
    }
}

/// <summary>
/// A decode step's self-attention projections in one op: for x (R, 1, In), n = RmsNorm(x; normWeight, Eps) when
/// <see cref="HasNorm"/> (T5's pre-norm) or x itself (GIT); returns q = n·wqᵀ [+ bq] (R, 1, Out) and writes
/// k = n·wkᵀ [+ bk] and v = n·wvᵀ [+ bv] at [position] along axis 1 of the key and value caches (R, Lmax, Out), in place
/// (<see cref="Op.UpdatedInputs"/>). Three Linears (or RmsNormLinears) and two WriteAts as one op: the keys and values
/// need no buffer and no copy, and a device reads x once for all three weights.
/// Inputs (x, wq, wk, wv (Out, In), keyCache, valueCache, position I32 (1), [normWeight (In)], [bq, bk, bv (Out)]).
/// A position outside [0, Lmax) → <see cref="InvalidInputException"/> at run time, before a cache is written.
/// </summary>
public sealed record QkvProjectionOp(float Eps, bool HasNorm = true, bool HasBias = false) : Op
{
    public override IReadOnlyList<int> UpdatedInputs => [4, 5];

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 7 + (HasNorm ? 1 : 0) + (HasBias ? 3 : 0));
        var (x, keys, position) = (inputs[0], inputs[4], inputs[6]);
        ExpectRank(x, "x", 3, 3);
        if (x.Shape[1] != 1) throw Fail($"x {x.Shape} must be (R, 1, In): one position per row");
        ExpectRank(keys, "key cache", 3, 3);
        int outFeatures = keys.Shape[2];
        foreach (var (w, name) in new[] { (inputs[1], "wq"), (inputs[2], "wk"), (inputs[3], "wv") })
        {
            ExpectRank(w, name, 2, 2);
            if (w.Shape != new Shape(outFeatures, x.Shape[2])) throw Fail($"{name} {w.Shape} must be ({outFeatures}, {x.Shape[2]})");
        }
        foreach (var (cache, name) in new[] { (keys, "key cache"), (inputs[5], "value cache") })
        {
            if (cache.DType != x.DType) throw Fail($"{name} {cache} must have x's dtype {x.DType}");
            if (cache.Shape != keys.Shape || cache.Shape[0] != x.Shape[0])
                throw Fail($"{name} {cache.Shape} must be ({x.Shape[0]}, Lmax, {outFeatures}) like the key cache {keys.Shape}");
        }
        ExpectDType(position, "position", DType.I32);
        if (position.Shape != new Shape(1)) throw Fail($"position must be I32 (1), got {position}");
        if (HasNorm && inputs[7].ElementCount != x.Shape[2]) throw Fail($"norm weight {inputs[7].Shape} must have {x.Shape[2]} elements");
        for (int i = 0; HasBias && i < 3; i++)
            if (inputs[BiasInput(i)].ElementCount != outFeatures) throw Fail($"bias {i} {inputs[BiasInput(i)].Shape} must have {outFeatures} elements");
        return new TensorDesc(x.DType, new Shape(x.Shape[0], 1, outFeatures));
    }

    /// <summary>The input index of the norm weight (when <see cref="HasNorm"/>).</summary>
    public int NormInput => 7;

    /// <summary>The input index of q's (0), k's (1) or v's (2) bias (when <see cref="HasBias"/>).</summary>
    public int BiasInput(int projection) => 7 + (HasNorm ? 1 : 0) + projection;
}

public static partial class GraphOps
{
    /// <summary>
    /// q = RmsNorm(x)·wqᵀ, with the key and value projections written into their caches at <paramref name="position"/>
    /// (see <see cref="QkvProjectionOp"/>). Nodes created after this one read the updated caches.
    /// </summary>
    public static Tensor QkvProjection(this Graph g, Tensor x, Tensor normWeight, float eps, Tensor wq, Tensor wk, Tensor wv,
        Tensor keyCache, Tensor valueCache, Tensor position) =>
        g.Apply(new QkvProjectionOp(eps), x, g.LinearWeight(wq), g.LinearWeight(wk), g.LinearWeight(wv), keyCache, valueCache, position, normWeight);

    /// <summary>q = x·wqᵀ + bq, with x·wkᵀ + bk and x·wvᵀ + bv written into their caches (GIT's step; see <see cref="QkvProjectionOp"/>).</summary>
    public static Tensor QkvProjection(this Graph g, Tensor x, (Tensor W, Tensor B) q, (Tensor W, Tensor B) k, (Tensor W, Tensor B) v,
        Tensor keyCache, Tensor valueCache, Tensor position) =>
        g.Apply(new QkvProjectionOp(0f, HasNorm: false, HasBias: true), x, g.LinearWeight(q.W), g.LinearWeight(k.W), g.LinearWeight(v.W), keyCache, valueCache,
            position, q.B, k.B, v.B);

    public static Tensor WriteAt(this Graph g, Tensor x, Tensor values, Tensor position, int axis) =>
        g.Apply(new WriteAtOp(axis), x, values, position);

    public static Tensor ReorderRows(this Graph g, Tensor x, Tensor rows) => g.Apply(new ReorderRowsOp(), x, rows);

    /// <summary>
    /// Every tensor of <paramref name="xs"/> (alike) reordered by the same <paramref name="rows"/> in one op (see
    /// <see cref="ReorderRowsOp"/>); returns xs[0] updated. Nodes created after this one read the others updated.
    /// </summary>
    public static Tensor ReorderRows(this Graph g, IReadOnlyList<Tensor> xs, Tensor rows) =>
        g.Apply(new ReorderRowsOp(xs.Count), [xs[0], rows, .. xs.Skip(1)]);

    /// <summary>
    /// Like <see cref="ReorderRows(Graph, IReadOnlyList{Tensor}, Tensor)"/>, moving only the first <paramref name="limit"/>
    /// entries along axis 1 of each row (a cache's filled slots; see <see cref="ReorderRowsOp.ValidPrefix"/>).
    /// </summary>
    public static Tensor ReorderRows(this Graph g, IReadOnlyList<Tensor> xs, Tensor rows, Tensor limit) =>
        g.Apply(new ReorderRowsOp(xs.Count, ValidPrefix: true), [xs[0], rows, .. xs.Skip(1), limit]);
}
