using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// Self-attention over a (B, H, W) token grid, whole or within Window × Window windows, with SAM's decomposed
/// relative-position bias (segment-anything <c>Attention</c> after its qkv projection), as one op. It stands for exactly
/// <c>WindowPartition</c> (padding with the pad row) → <c>RelPosBias</c> (packed) → <c>Attention</c> (packed, key-grid
/// bias) → <c>WindowUnpartition</c> (<see cref="RunAsOps{T}"/>), so a backend may run those ops on scratch, or one kernel
/// that reads the windows where they lie in the unpartitioned map and scores the rel-pos terms itself.
/// Inputs: qkv (B, H, W, 3·C), rows q | k | v each head-major; with <see cref="HasPadRow"/> pad (3·C), the row a
/// padded token takes (a projection's bias: SAM pads before projecting, so pad tokens are real, unmasked keys; zeros
/// without it); with <see cref="HasRelPos"/> relH (2·Sh − 1, D) and relW (2·Sw − 1, D), where (Sh, Sw) is (Window,
/// Window) or (H, W). Output (B, H, W, C): pad tokens' outputs are dropped. Scores are Scale·q·kᵀ plus the terms of the
/// unscaled q.
/// </summary>
public sealed record GridAttentionOp(int NumHeads, float Scale, int Window = 0, bool HasPadRow = false, bool HasRelPos = true) : Op
{
    /// <summary>The scratch tensors the op's steps write, in order; unused ones (no window, no rel-pos) are null.</summary>
    public enum Intermediate { Windows, Terms, Attended }

    /// <summary>The input that holds relH (relW follows it): after qkv and the pad row.</summary>
    public int RelPosInput => HasPadRow ? 2 : 1;

    /// <summary>The sizes every input is checked against: (Sh, Sw) is a window or the whole grid; Maps windows in all.</summary>
    public readonly record struct Sizes(int Batch, int Height, int Width, int Channels, int HeadDim, int SpanH, int SpanW, int Maps)
    {
        public int Tokens => SpanH * SpanW;
    }

    public Sizes SizesOf(IReadOnlyList<TensorDesc> inputs)
    {
        var qkv = inputs[0];
        ExpectRank(qkv, "qkv", 4, 4);
        var s = qkv.Shape;
        if (s[3] % 3 != 0) throw Fail($"qkv {s} must end in 3 equal widths (q | k | v)");
        int c = s[3] / 3;
        if (NumHeads < 1 || c % NumHeads != 0) throw Fail($"width {c} not divisible by {NumHeads} heads");
        if (Window < 0) throw Fail($"window {Window} must be positive (0: the whole grid)");
        if (Window == 0) return new(s[0], s[1], s[2], c, c / NumHeads, s[1], s[2], s[0]);
        int maps = s[0] * ((s[1] + Window - 1) / Window) * ((s[2] + Window - 1) / Window);
        return new(s[0], s[1], s[2], c, c / NumHeads, Window, Window, maps);
    }

    /// <summary>Descriptions of the intermediates <see cref="RunAsOps{T}"/> writes (null where the op has none).</summary>
    public TensorDesc?[] Intermediates(IReadOnlyList<TensorDesc> inputs)
    {
        var s = SizesOf(inputs);
        var type = inputs[0].DType;
        return
        [
            Window > 0 ? new TensorDesc(type, new Shape(s.Maps, s.SpanH, s.SpanW, 3 * s.Channels)) : null,
            HasRelPos ? new TensorDesc(type, new Shape(s.Maps, NumHeads, s.Tokens, s.SpanH + s.SpanW)) : null,
            Window > 0 ? new TensorDesc(type, new Shape(s.Maps, s.Tokens, s.Channels)) : null,
        ];
    }

    /// <summary>
    /// Runs the op as the ops it stands for, for inputs of sizes <paramref name="s"/> (<see cref="SizesOf"/>):
    /// <paramref name="run"/> gets each step with its inputs and output; <paramref name="view"/> gives a tensor's storage
    /// under another shape of as many elements. The one place that says what this op means.
    /// </summary>
    public void RunAsOps<T>(Sizes s, IReadOnlyList<T> inputs, IReadOnlyList<T> intermediates, T output, Action<Op, T[], T> run,
        Func<T, Shape, T> view)
    {
        T qkv = inputs[0], tokens;
        if (Window > 0)
        {
            T windows = intermediates[(int)Intermediate.Windows];
            run(new WindowPartitionOp(Window, HasPadRow), HasPadRow ? [qkv, inputs[1]] : [qkv], windows);
            tokens = view(windows, new Shape(s.Maps, s.Tokens, 3 * s.Channels));
        }
        else tokens = view(qkv, new Shape(s.Batch, s.Tokens, 3 * s.Channels));
        T attended = Window > 0 ? intermediates[(int)Intermediate.Attended] : view(output, new Shape(s.Batch, s.Tokens, s.Channels));
        var attention = new AttentionOp(NumHeads, Scale, HasBias: HasRelPos, BiasKeyGridRows: HasRelPos ? s.SpanH : 0, PackedQkv: true);
        if (HasRelPos)
        {
            T terms = intermediates[(int)Intermediate.Terms];
            run(new RelPosBiasOp(NumHeads, s.SpanH, s.SpanW, s.SpanH, s.SpanW, PackedQkv: true), [tokens, inputs[RelPosInput], inputs[RelPosInput + 1]], terms);
            run(attention, [tokens, terms], attended);
        }
        else run(attention, [tokens], attended);
        if (Window > 0)
            run(new WindowUnpartitionOp(Window, s.Height, s.Width), [view(attended, new Shape(s.Maps, s.SpanH, s.SpanW, s.Channels))], output);
    }

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 1 + (HasPadRow ? 1 : 0) + (HasRelPos ? 2 : 0));
        var s = SizesOf(inputs);
        var qkv = inputs[0];
        if (HasPadRow && Window == 0) throw Fail("a pad row is given, but without a window nothing is padded");
        if (HasPadRow && inputs[1].Shape != new Shape(3 * s.Channels))
            throw Fail($"pad row {inputs[1].Shape} must be ({3 * s.Channels}), one value per qkv channel");
        if (HasPadRow) ExpectDType(inputs[1], "pad row", qkv.DType);
        if (HasRelPos)
        {
            var (relH, relW) = (inputs[RelPosInput], inputs[RelPosInput + 1]);
            if (relH.Shape != new Shape(2 * s.SpanH - 1, s.HeadDim)) throw Fail($"rel_pos_h {relH.Shape} must be ({2 * s.SpanH - 1}, {s.HeadDim})");
            if (relW.Shape != new Shape(2 * s.SpanW - 1, s.HeadDim)) throw Fail($"rel_pos_w {relW.Shape} must be ({2 * s.SpanW - 1}, {s.HeadDim})");
        }
        return new TensorDesc(qkv.DType, new Shape(s.Batch, s.Height, s.Width, s.Channels));
    }

    /// <summary>
    /// The attention's and the terms' FLOPs over every window; bytes as one kernel moves them: qkv and the tables read,
    /// the output written (the steps' intermediates are what a fused kernel saves).
    /// </summary>
    public override OpCost? Cost(IReadOnlyList<TensorDesc> inputs, TensorDesc output)
    {
        var s = SizesOf(inputs);
        double pairs = (double)s.Maps * NumHeads * s.Tokens * s.Tokens;
        double terms = HasRelPos ? 2.0 * s.Maps * NumHeads * s.Tokens * (s.SpanH + s.SpanW) * s.HeadDim : 0;
        return new OpCost(4.0 * pairs * s.HeadDim + terms, output.ByteSize + inputs.Sum(i => (double)i.ByteSize));
    }
}

public static partial class GraphOps
{
    /// <summary>
    /// Grid attention (see <see cref="GridAttentionOp"/>): qkv (B, H, W, 3·C) → (B, H, W, C), within windows of
    /// <paramref name="window"/> (0: the whole grid), pad tokens taking <paramref name="padRow"/>, with SAM's rel-pos tables.
    /// </summary>
    public static Tensor GridAttention(this Graph g, Tensor qkv, int numHeads, float scale, int window, Tensor? padRow,
        Tensor? relH, Tensor? relW)
    {
        if ((relH is null) != (relW is null)) throw new GraphBuildException("GridAttention: give both rel-pos tables or neither");
        var op = new GridAttentionOp(numHeads, scale, window, padRow is not null, relH is not null);
        return g.Apply(op, [qkv, .. new[] { padRow, relH, relW }.OfType<Tensor>()]);
    }
}
