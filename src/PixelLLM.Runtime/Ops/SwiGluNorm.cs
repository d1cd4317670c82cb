using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// EVA02's MLP middle as one op: exactly <c>SwiGlu</c> over packed gate | x rows (…, 2·W) → <c>LayerNorm</c> (with
/// weight and bias, over the first <see cref="Width"/> of W when the rows are padded; the padding written as zeros),
/// so a backend may run those two ops on scratch or one kernel that keeps h on chip (<see cref="RunAsOps{T}"/>).
/// Inputs: gate | x (…, 2·W), weight and bias (Width, or W). Output (…, W).
/// </summary>
public sealed record SwiGluNormOp(float Eps, int Width = 0) : Op
{
    /// <summary>The LayerNorm step.</summary>
    public LayerNormOp Norm => new(Eps, Width: Width);

    /// <summary>
    /// Runs the op as the ops it stands for: <paramref name="run"/> gets each step with its inputs and output, the SwiGlu
    /// writing <paramref name="gated"/> (a tensor like the output). The one place that says what this op means.
    /// </summary>
    public void RunAsOps<T>(IReadOnlyList<T> inputs, T gated, T output, Action<Op, T[], T> run)
    {
        run(new SwiGluOp(Packed: true), [inputs[0]], gated);
        run(Norm, [gated, inputs[1], inputs[2]], output);
    }

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 3);
        var gated = new SwiGluOp(Packed: true).InferOutput([inputs[0]]);
        return Norm.InferOutput([gated, inputs[1], inputs[2]]);
    }

    /// <summary>The gate's and the norm's per-element work; bytes as one kernel moves them (gate | x read, y written).</summary>
    public override OpCost? Cost(IReadOnlyList<TensorDesc> inputs, TensorDesc output) =>
        new OpCost(14.0 * output.ElementCount, output.ByteSize + inputs.Sum(i => (double)i.ByteSize));
}

public static partial class GraphOps
{
    /// <summary>SwiGLU then LayerNorm (see <see cref="SwiGluNormOp"/>); <paramref name="width"/> &gt; 0 normalises only that many columns.</summary>
    public static Tensor SwiGluNorm(this Graph g, Tensor gateAndX, Tensor weight, Tensor bias, float eps, int width = 0) =>
        g.Apply(new SwiGluNormOp(eps, width), gateAndX, weight, bias);
}
