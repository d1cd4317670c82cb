using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// EVA02's attention after its qkv projection, as one op: exactly <c>Rope</c> over the q and k thirds of each packed
/// q | k | v row (interleaved pairs, tokens before <see cref="StartToken"/> unrotated) → <c>Attention</c> reading the rotated
/// rows packed (<see cref="RunAsOps{T}"/>), so a backend may run those two ops on scratch, or one kernel that rotates q
/// and k as it loads them. Inputs: qkv (B, L, 3·C), sin and cos (L − StartToken, D). Output (B, L, C).
/// </summary>
public sealed record RotaryAttentionOp(int NumHeads, float Scale, int StartToken = 0) : Op
{
    /// <summary>The Rope step: 2·NumHeads heads of D over the first 2·C columns (q and k), v passed through.</summary>
    public RopeOp Rope(int channels) => new(2 * NumHeads, StartToken, RotatedWidth: 2 * channels);

    /// <summary>The Attention step, over the rotated packed rows.</summary>
    public AttentionOp Attention => new(NumHeads, Scale, PackedQkv: true);

    /// <summary>
    /// Runs the op as the ops it stands for, for qkv rows of 3·<paramref name="channels"/>: <paramref name="run"/> gets each
    /// step with its inputs and output, the Rope writing <paramref name="rotated"/> (a tensor like qkv). The one place
    /// that says what this op means.
    /// </summary>
    public void RunAsOps<T>(IReadOnlyList<T> inputs, T rotated, T output, int channels, Action<Op, T[], T> run)
    {
        run(Rope(channels), [inputs[0], inputs[1], inputs[2]], rotated);
        run(Attention, [rotated], output);
    }

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, 3);
        var qkv = inputs[0];
        ExpectRank(qkv, "qkv", 3, 3);
        if (qkv.Shape[2] % 3 != 0) throw Fail($"qkv {qkv.Shape} must end in 3 equal widths (q | k | v)");
        if (StartToken < 0 || StartToken > qkv.Shape[1]) throw Fail($"start token {StartToken} must be in [0, {qkv.Shape[1]}]");
        Rope(qkv.Shape[2] / 3).InferOutput(inputs);
        return Attention.InferOutput([qkv]);
    }

    /// <summary>The attention's FLOPs and the rotation's; bytes as one kernel moves them (qkv and the tables read, the output written).</summary>
    public override OpCost? Cost(IReadOnlyList<TensorDesc> inputs, TensorDesc output)
    {
        var qkv = inputs[0].Shape;
        double batch = qkv[0], tokens = qkv[1], channels = qkv[2] / 3;
        return new OpCost(4.0 * batch * tokens * tokens * channels + 6.0 * batch * tokens * channels,
            output.ByteSize + inputs.Sum(i => (double)i.ByteSize));
    }
}

public static partial class GraphOps
{
    /// <summary>Rotary attention (see <see cref="RotaryAttentionOp"/>): packed qkv (B, L, 3·C) and RoPE tables → (B, L, C).</summary>
    public static Tensor RotaryAttention(this Graph g, Tensor qkv, Tensor sin, Tensor cos, int numHeads, float scale, int startToken = 0) =>
        g.Apply(new RotaryAttentionOp(numHeads, scale, startToken), qkv, sin, cos);
}
