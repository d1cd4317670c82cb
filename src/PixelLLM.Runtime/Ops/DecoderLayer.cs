using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// One T5 decoder layer for one new position per row (a KV-cache decode step), as one op: exactly the eight ops
/// <c>QkvProjection</c> (pre-norm; k, v into the self caches at position) → <c>Attention</c> (relative-position bias,
/// self mask) → <c>Linear</c> (o, + x) → <c>RmsNormLinear</c> (cross q) → <c>Attention</c> (cross mask) → <c>Linear</c>
/// (cross o, + residual) → <c>RmsNormGeGlu</c> (wi_0, wi_1) → <c>Linear</c> (wo, + residual), with every intermediate
/// rounded to x's storage type as those ops round it. Scores are unscaled (T5) and masked keys get
/// <see cref="MaskBias"/> added. A device runs it as one launch whose phases wait on each other (a decode step is 24 of
/// these instead of 192 launches); the CPU runs the eight ops' own code, so both paths agree bit for bit there.
/// Inputs, in <see cref="Input"/> order: x (R, 1, d); self_norm (d); wq, wk, wv (inner, d); wo (d, inner); key and value
/// caches (R, Lmax, inner), updated (<see cref="Op.UpdatedInputs"/>); position I32 (1); bias (1, H, 1, Lmax); self mask
/// U8 (R, 1, 1, Lmax); cross_norm (d); cross wq (inner, d); cross wo (d, inner); cross keys and values (R, Lm, inner);
/// cross mask U8 (R, 1, 1, Lm); ff_norm (d); wi_0, wi_1 (dff, d); wo_ff (d, dff). Output (R, 1, d).
/// A position outside [0, Lmax) → <see cref="InvalidInputException"/> at run time, before a cache is written.
/// </summary>
public sealed record T5DecoderLayerOp(int NumHeads, float Eps, float MaskBias) : Op
{
    /// <summary>The inputs by name, in order.</summary>
    public enum Input
    {
        X, SelfNorm, Wq, Wk, Wv, Wo, KeyCache, ValueCache, Position, Bias, SelfMask,
        CrossNorm, CrossWq, CrossWo, CrossKeys, CrossValues, CrossMask, FfNorm, Wi0, Wi1, WoFf,
    }

    public const int InputCount = (int)Input.WoFf + 1;

    public override IReadOnlyList<int> UpdatedInputs => [(int)Input.KeyCache, (int)Input.ValueCache];

    /// <summary>The sizes every input is checked against.</summary>
    public readonly record struct Sizes(int Rows, int Model, int Inner, int FeedForward, int MaxLength, int MemoryLength);

    public Sizes SizesOf(IReadOnlyList<TensorDesc> inputs)
    {
        var x = inputs[(int)Input.X];
        var keys = inputs[(int)Input.KeyCache];
        ExpectRank(x, "x", 3, 3);
        ExpectRank(keys, "key cache", 3, 3);
        ExpectRank(inputs[(int)Input.CrossKeys], "cross keys", 3, 3);
        ExpectRank(inputs[(int)Input.Wi0], "wi_0", 2, 2);
        return SizesOf(x.Shape, keys.Shape, inputs[(int)Input.CrossKeys].Shape, inputs[(int)Input.Wi0].Shape);
    }

    /// <summary>The sizes from the shapes of x, the key cache, the cross keys and wi_0 (a backend's, checked at build).</summary>
    public static Sizes SizesOf(Shape x, Shape keyCache, Shape crossKeys, Shape wi0) =>
        new(x[0], x[2], keyCache[2], wi0[0], keyCache[1], crossKeys[1]);

    /// <summary>What the eight ops pass from one to the next, each (R, 1, <see cref="Width"/>).</summary>
    public enum Intermediate { Q, O, AfterSelf, CrossQ, CrossO, AfterCross, Hidden }

    public const int IntermediateCount = (int)Intermediate.Hidden + 1;

    public static int Width(Intermediate i, Sizes s) => i switch
    {
        Intermediate.AfterSelf or Intermediate.AfterCross => s.Model,
        Intermediate.Hidden => s.FeedForward,
        _ => s.Inner,
    };

    /// <summary>
    /// The layer as its eight ops, for a backend to run with its own code (<paramref name="run"/>: op, inputs, output) on
    /// its tensors: <paramref name="inputs"/> in <see cref="Input"/> order, <paramref name="intermediates"/> in
    /// <see cref="Intermediate"/> order. The one place that says what this op stands for.
    /// </summary>
    public void RunAsOps<T>(IReadOnlyList<T> inputs, IReadOnlyList<T> intermediates, T output, Action<Op, T[], T> run)
    {
        T In(Input i) => inputs[(int)i];
        T Mid(Intermediate i) => intermediates[(int)i];
        var withResidual = new LinearOp(false, HasResidual: true);
        run(new QkvProjectionOp(Eps), [In(Input.X), In(Input.Wq), In(Input.Wk), In(Input.Wv), In(Input.KeyCache), In(Input.ValueCache),
            In(Input.Position), In(Input.SelfNorm)], Mid(Intermediate.Q));
        run(new AttentionOp(NumHeads, 1f, HasBias: true, HasMask: true, MaskBias: MaskBias),
            [Mid(Intermediate.Q), In(Input.KeyCache), In(Input.ValueCache), In(Input.Bias), In(Input.SelfMask)], Mid(Intermediate.O));
        run(withResidual, [Mid(Intermediate.O), In(Input.Wo), In(Input.X)], Mid(Intermediate.AfterSelf));
        run(new RmsNormLinearOp(Eps), [Mid(Intermediate.AfterSelf), In(Input.CrossNorm), In(Input.CrossWq)], Mid(Intermediate.CrossQ));
        run(new AttentionOp(NumHeads, 1f, HasMask: true, MaskBias: MaskBias),
            [Mid(Intermediate.CrossQ), In(Input.CrossKeys), In(Input.CrossValues), In(Input.CrossMask)], Mid(Intermediate.CrossO));
        run(withResidual, [Mid(Intermediate.CrossO), In(Input.CrossWo), Mid(Intermediate.AfterSelf)], Mid(Intermediate.AfterCross));
        run(new RmsNormGeGluOp(Eps), [Mid(Intermediate.AfterCross), In(Input.FfNorm), In(Input.Wi0), In(Input.Wi1)], Mid(Intermediate.Hidden));
        run(withResidual, [Mid(Intermediate.Hidden), In(Input.WoFf), Mid(Intermediate.AfterCross)], output);
    }

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, InputCount);
        var s = SizesOf(inputs);
        var x = inputs[(int)Input.X];
        if (x.Shape[1] != 1) throw Fail($"x {x.Shape} must be (R, 1, d): one position per row");
        if (NumHeads < 1 || s.Inner % NumHeads != 0) throw Fail($"inner width {s.Inner} is not divisible by {NumHeads} heads");
        void Expect(Input input, params int[] dims)
        {
            var d = inputs[(int)input];
            if (d.Shape != new Shape(dims)) throw Fail($"{input} {d.Shape} must be ({string.Join(", ", dims)})");
            if (input is not (Input.Position or Input.SelfMask or Input.CrossMask) && d.DType != x.DType && !IsWeight(input))
                throw Fail($"{input} {d} must have x's dtype {x.DType}");
        }
        Expect(Input.SelfNorm, s.Model);
        Expect(Input.Wq, s.Inner, s.Model); Expect(Input.Wk, s.Inner, s.Model); Expect(Input.Wv, s.Inner, s.Model);
        Expect(Input.Wo, s.Model, s.Inner);
        Expect(Input.KeyCache, s.Rows, s.MaxLength, s.Inner); Expect(Input.ValueCache, s.Rows, s.MaxLength, s.Inner);
        Expect(Input.Position, 1);
        Expect(Input.Bias, 1, NumHeads, 1, s.MaxLength);
        Expect(Input.SelfMask, s.Rows, 1, 1, s.MaxLength);
        Expect(Input.CrossNorm, s.Model);
        Expect(Input.CrossWq, s.Inner, s.Model); Expect(Input.CrossWo, s.Model, s.Inner);
        Expect(Input.CrossKeys, s.Rows, s.MemoryLength, s.Inner); Expect(Input.CrossValues, s.Rows, s.MemoryLength, s.Inner);
        Expect(Input.CrossMask, s.Rows, 1, 1, s.MemoryLength);
        Expect(Input.FfNorm, s.Model);
        Expect(Input.Wi1, s.FeedForward, s.Model);
        Expect(Input.WoFf, s.Model, s.FeedForward);
        ExpectDType(inputs[(int)Input.Position], "position", DType.I32);
        ExpectDType(inputs[(int)Input.SelfMask], "self mask", DType.U8);
        ExpectDType(inputs[(int)Input.CrossMask], "cross mask", DType.U8);
        return x;
    }

    /// <summary>Weights may be stored narrower than the activations (bf16 weights on the CPU's f32 activations).</summary>
    private static bool IsWeight(Input input) => input is Input.SelfNorm or Input.Wq or Input.Wk or Input.Wv or Input.Wo
        or Input.CrossNorm or Input.CrossWq or Input.CrossWo or Input.FfNorm or Input.Wi0 or Input.Wi1 or Input.WoFf;

    public override OpCost? Cost(IReadOnlyList<TensorDesc> inputs, TensorDesc output)
    {
        var s = SizesOf(inputs);
        double rows = s.Rows, weights = 0, bytes = 0;
        foreach (var w in new[] { Input.Wq, Input.Wk, Input.Wv, Input.Wo, Input.CrossWq, Input.CrossWo, Input.Wi0, Input.Wi1, Input.WoFf })
        {
            weights += inputs[(int)w].ElementCount;
            bytes += inputs[(int)w].ByteSize;
        }
        double attention = 4.0 * rows * s.Inner * (s.MaxLength + s.MemoryLength);
        foreach (var kv in new[] { Input.KeyCache, Input.ValueCache, Input.CrossKeys, Input.CrossValues }) bytes += inputs[(int)kv].ByteSize;
        return new OpCost(2.0 * rows * weights + attention, bytes + 2 * output.ByteSize);
    }
}

public static partial class GraphOps
{
    /// <summary>The weights of one T5 decoder layer as <see cref="T5DecoderLayerOp"/> reads them.</summary>
    public readonly record struct T5DecoderLayerWeights(Tensor SelfNorm, Tensor Wq, Tensor Wk, Tensor Wv, Tensor Wo,
        Tensor CrossNorm, Tensor CrossWq, Tensor CrossWo, Tensor FfNorm, Tensor Wi0, Tensor Wi1, Tensor WoFf)
    {
        /// <summary>The projections as a Linear reads them (<see cref="Graph.LinearWeight"/>); the norms as they are.</summary>
        public T5DecoderLayerWeights ForLinear(Graph g) => this with
        {
            Wq = g.LinearWeight(Wq), Wk = g.LinearWeight(Wk), Wv = g.LinearWeight(Wv), Wo = g.LinearWeight(Wo),
            CrossWq = g.LinearWeight(CrossWq), CrossWo = g.LinearWeight(CrossWo),
            Wi0 = g.LinearWeight(Wi0), Wi1 = g.LinearWeight(Wi1), WoFf = g.LinearWeight(WoFf),
        };
    }

    /// <summary>
    /// One T5 decoder layer for one position per row (see <see cref="T5DecoderLayerOp"/>); the self caches are updated at
    /// <paramref name="position"/> in place and nodes created after this one read them updated.
    /// </summary>
    public static Tensor T5DecoderLayer(this Graph g, T5DecoderLayerOp op, Tensor x, T5DecoderLayerWeights w, Tensor keyCache, Tensor valueCache,
        Tensor position, Tensor bias, Tensor selfMask, Tensor crossKeys, Tensor crossValues, Tensor crossMask)
    {
        w = w.ForLinear(g);
        return g.Apply(op, x, w.SelfNorm, w.Wq, w.Wk, w.Wv, w.Wo, keyCache, valueCache, position, bias, selfMask,
            w.CrossNorm, w.CrossWq, w.CrossWo, crossKeys, crossValues, crossMask, w.FfNorm, w.Wi0, w.Wi1, w.WoFf);
    }
}
