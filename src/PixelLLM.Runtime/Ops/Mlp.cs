using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// A dense stack as one op (scenic's MLP heads, the point head): exactly [<c>LayerNorm</c>] → <c>Linear</c> → <c>Unary</c>
/// → … → <c>Linear</c>, no activation after the last layer (<see cref="RunAsOps{T}"/>), so a backend may run those ops
/// on scratch, or one kernel whose layers hand their rows to each other. Inputs: x (…, d); with
/// <see cref="PreNorm"/> the LayerNorm's weight and bias (d); then each layer's weight (n, k) and bias (n), k the
/// previous width. Output (…, n of the last layer).
/// </summary>
public sealed record MlpOp(int Depth, UnaryKind Activation, bool PreNorm = false, float NormEps = 1e-6f) : Op
{
    /// <summary>The input that holds layer <paramref name="layer"/>'s weight (its bias follows).</summary>
    public int WeightInput(int layer) => (PreNorm ? 3 : 1) + 2 * layer;

    /// <summary>Layer widths n₀ … n_{Depth−1}, read from the weights.</summary>
    public int[] Widths(IReadOnlyList<TensorDesc> inputs) =>
        Enumerable.Range(0, Depth).Select(l => inputs[WeightInput(l)].Shape[0]).ToArray();

    /// <summary>
    /// The intermediates <see cref="RunAsOps{T}"/> writes, in order: the normed x (with <see cref="PreNorm"/>), then for
    /// each layer but the last its Linear's output and its activation's.
    /// </summary>
    public TensorDesc[] Intermediates(IReadOnlyList<TensorDesc> inputs)
    {
        var x = inputs[0];
        var list = new List<TensorDesc>();
        if (PreNorm) list.Add(x);
        var widths = Widths(inputs);
        for (int l = 0; l < Depth - 1; l++)
        {
            var desc = x with { Shape = x.Shape.With(-1, widths[l]) };
            list.Add(desc);
            list.Add(desc);
        }
        return [.. list];
    }

    /// <summary>
    /// Runs the op as the ops it stands for: <paramref name="run"/> gets each step with its inputs and output, on the
    /// intermediates in <see cref="Intermediates"/>' order. The one place that says what this op means.
    /// </summary>
    public void RunAsOps<T>(IReadOnlyList<T> inputs, IReadOnlyList<T> intermediates, T output, Action<Op, T[], T> run)
    {
        int next = 0;
        T h = inputs[0];
        if (PreNorm)
        {
            run(new LayerNormOp(NormEps), [h, inputs[1], inputs[2]], intermediates[next]);
            h = intermediates[next++];
        }
        for (int l = 0; l < Depth; l++)
        {
            T weight = inputs[WeightInput(l)], bias = inputs[WeightInput(l) + 1];
            if (l == Depth - 1)
            {
                run(new LinearOp(true), [h, weight, bias], output);
                break;
            }
            run(new LinearOp(true), [h, weight, bias], intermediates[next]);
            run(new UnaryOp(Activation), [intermediates[next]], intermediates[next + 1]);
            h = intermediates[next + 1];
            next += 2;
        }
    }

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        if (Depth < 1) throw Fail($"depth {Depth} must be at least 1");
        ExpectInputs(inputs, WeightInput(Depth));
        var x = inputs[0];
        ExpectRank(x, "x", 1);
        if (PreNorm) new LayerNormOp(NormEps).InferOutput([x, inputs[1], inputs[2]]);
        var h = x;
        for (int l = 0; l < Depth; l++)
        {
            h = new LinearOp(true).InferOutput([h, inputs[WeightInput(l)], inputs[WeightInput(l) + 1]]);
            if (l < Depth - 1) h = new UnaryOp(Activation).InferOutput([h]);
        }
        return h;
    }

    /// <summary>The Linears' FLOPs (the norm and activations are a few per element); bytes as one kernel moves them.</summary>
    public override OpCost? Cost(IReadOnlyList<TensorDesc> inputs, TensorDesc output)
    {
        double rows = inputs[0].ElementCount / inputs[0].Shape[-1], flops = 0;
        for (int l = 0; l < Depth; l++) flops += 2.0 * rows * inputs[WeightInput(l)].ElementCount;
        return new OpCost(flops, output.ByteSize + inputs.Sum(i => (double)i.ByteSize));
    }
}

public static partial class GraphOps
{
    /// <summary>A dense stack (see <see cref="MlpOp"/>): <paramref name="layers"/> are (weight, bias) pairs, first to last.</summary>
    public static Tensor Mlp(this Graph g, Tensor x, IReadOnlyList<(Tensor Weight, Tensor Bias)> layers, UnaryKind activation,
        (Tensor Weight, Tensor Bias, float Eps)? preNorm = null)
    {
        var inputs = new List<Tensor> { x };
        if (preNorm is { } n) inputs.AddRange([n.Weight, n.Bias]);
        foreach (var (w, b) in layers) inputs.AddRange([g.LinearWeight(w), b]);
        return g.Apply(new MlpOp(layers.Count, activation, preNorm is not null, preNorm?.Eps ?? 1e-6f), [.. inputs]);
    }
}
