using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Profiling;
using L = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Input;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// A decode step's whole T5 decoder stack: <see cref="Layers"/> <see cref="T5DecoderLayerOp"/>s in a row, each reading
/// the previous one's output, as one op, so that a device can run the stack as one launch whose blocks fetch the next
/// layer's weights while the current layer's last phases finish (no drain between layers). Every backend may also run
/// it layer by layer with the layer op's own code (<see cref="RunAsLayers{T}"/>), which gives the same bits.
/// Inputs: the five every layer shares (<see cref="SharedInputs"/>: x, position, bias, self mask, cross mask), then
/// per layer the sixteen of <see cref="PerLayerInputs"/> (its norms, weights, self caches and cross keys/values); every
/// layer's self caches are updated in place. Output (R, 1, d).
/// </summary>
public sealed record T5DecoderStackOp(int NumHeads, float Eps, float MaskBias, int Layers) : Op
{
    /// <summary>The layer op every layer of the stack is.</summary>
    public T5DecoderLayerOp Layer => new(NumHeads, Eps, MaskBias);

    /// <summary>The layer inputs all layers share, first in the stack's inputs, in this order.</summary>
    public static readonly L[] SharedInputs = [L.X, L.Position, L.Bias, L.SelfMask, L.CrossMask];

    /// <summary>One layer's own inputs, in the order each layer's block of the stack's inputs lists them.</summary>
    public static readonly L[] PerLayerInputs =
    [
        L.SelfNorm, L.Wq, L.Wk, L.Wv, L.Wo, L.KeyCache, L.ValueCache, L.CrossNorm, L.CrossWq, L.CrossWo,
        L.CrossKeys, L.CrossValues, L.FfNorm, L.Wi0, L.Wi1, L.WoFf,
    ];

    public int InputCount => SharedInputs.Length + PerLayerInputs.Length * Layers;

    /// <summary>Where layer <paramref name="layer"/>'s <paramref name="input"/> sits in the stack's inputs.</summary>
    public int IndexOf(int layer, L input)
    {
        int shared = Array.IndexOf(SharedInputs, input);
        return shared >= 0 ? shared : SharedInputs.Length + PerLayerInputs.Length * layer + Array.IndexOf(PerLayerInputs, input);
    }

    public override IReadOnlyList<int> UpdatedInputs =>
        [.. Enumerable.Range(0, Layers).SelectMany(l => new[] { IndexOf(l, L.KeyCache), IndexOf(l, L.ValueCache) })];

    /// <summary>
    /// Layer <paramref name="layer"/>'s inputs in <see cref="T5DecoderLayerOp.Input"/> order, with <paramref name="x"/>
    /// (the previous layer's output; the stack's x for layer 0) as its x.
    /// </summary>
    public T[] LayerInputs<T>(IReadOnlyList<T> inputs, int layer, T x)
    {
        var layerInputs = new T[T5DecoderLayerOp.InputCount];
        foreach (var input in SharedInputs) layerInputs[(int)input] = inputs[IndexOf(layer, input)];
        foreach (var input in PerLayerInputs) layerInputs[(int)input] = inputs[IndexOf(layer, input)];
        layerInputs[(int)L.X] = x;
        return layerInputs;
    }

    /// <summary>
    /// The stack as its layers (<paramref name="run"/>: layer op, its inputs, its output): every layer writes
    /// <paramref name="output"/>, and every layer after the first reads it as its x. That is safe for every backend's
    /// layer: a layer reads its x (the q/k/v and o phases) before its last product writes its output.
    /// </summary>
    public void RunAsLayers<T>(IReadOnlyList<T> inputs, T output, Action<T5DecoderLayerOp, T[], T> run)
    {
        var layer = Layer;
        for (int l = 0; l < Layers; l++) run(layer, LayerInputs(inputs, l, l == 0 ? inputs[(int)L.X] : output), output);
    }

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        if (Layers < 1) throw Fail($"a stack needs at least one layer, got {Layers}");
        ExpectInputs(inputs, InputCount);
        var x = inputs[(int)L.X];
        for (int l = 0; l < Layers; l++)
        {
            try
            {
                var y = Layer.InferOutput(LayerInputs(inputs, l, x));
                if (y != x) throw Fail($"layer {l} gives {y}, not x's {x}");
            }
            catch (GraphBuildException e)
            {
                throw Fail($"layer {l}: {e.Message}");
            }
        }
        return x;
    }

    public override OpCost? Cost(IReadOnlyList<TensorDesc> inputs, TensorDesc output)
    {
        double flops = 0, bytes = 0;
        for (int l = 0; l < Layers; l++)
            if (Layer.Cost(LayerInputs(inputs, l, inputs[(int)L.X]), output) is { } c)
            {
                flops += c.Flops;
                bytes += c.Bytes;
            }
        return new OpCost(flops, bytes);
    }
}

public static partial class GraphOps
{
    /// <summary>One layer's self caches and cross keys/values as <see cref="T5DecoderStackOp"/> reads them.</summary>
    public readonly record struct T5DecoderLayerStates(Tensor KeyCache, Tensor ValueCache, Tensor CrossKeys, Tensor CrossValues);

    /// <summary>
    /// A decode step's decoder layers as one op (see <see cref="T5DecoderStackOp"/>); every layer's self caches are updated
    /// at <paramref name="position"/> in place and nodes created after this one read them updated.
    /// </summary>
    public static Tensor T5DecoderStack(this Graph g, T5DecoderStackOp op, Tensor x, IReadOnlyList<T5DecoderLayerWeights> weights,
        IReadOnlyList<T5DecoderLayerStates> states, Tensor position, Tensor bias, Tensor selfMask, Tensor crossMask)
    {
        if (weights.Count != op.Layers || states.Count != op.Layers)
            throw new GraphBuildException($"{op.Name}: {op.Layers} layers but {weights.Count} weight sets and {states.Count} state sets");
        var inputs = new Tensor[op.InputCount];
        inputs[op.IndexOf(0, L.X)] = x;
        inputs[op.IndexOf(0, L.Position)] = position;
        inputs[op.IndexOf(0, L.Bias)] = bias;
        inputs[op.IndexOf(0, L.SelfMask)] = selfMask;
        inputs[op.IndexOf(0, L.CrossMask)] = crossMask;
        for (int l = 0; l < op.Layers; l++)
        {
            var (w, s) = (weights[l].ForLinear(g), states[l]);
            void Set(L input, Tensor t) => inputs[op.IndexOf(l, input)] = t;
            Set(L.SelfNorm, w.SelfNorm); Set(L.Wq, w.Wq); Set(L.Wk, w.Wk); Set(L.Wv, w.Wv); Set(L.Wo, w.Wo);
            Set(L.KeyCache, s.KeyCache); Set(L.ValueCache, s.ValueCache);
            Set(L.CrossNorm, w.CrossNorm); Set(L.CrossWq, w.CrossWq); Set(L.CrossWo, w.CrossWo);
            Set(L.CrossKeys, s.CrossKeys); Set(L.CrossValues, s.CrossValues);
            Set(L.FfNorm, w.FfNorm); Set(L.Wi0, w.Wi0); Set(L.Wi1, w.Wi1); Set(L.WoFf, w.WoFf);
        }
        return g.Apply(op, inputs);
    }
}
