using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// The greedy decoding choice per row (spec §8.1, errata B5) made next to the logits, so a decode step hands back a few
/// bytes per row instead of a vocabulary of logits: inputs logits (..., V) and each row's previous token, I32 with one
/// value per row. The previous token's logit is capped at <see cref="RepeatCap"/>; a row whose previous token is
/// <see cref="Eos"/> is forced to EOS. Output: the chosen token per row, I32 (rows) — the first index of the largest
/// log-softmax value (<see cref="GreedyChoice"/>). A previous token outside [0, V) fails at run time.
/// </summary>
public sealed record GreedyPickOp(int Eos, float RepeatCap) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs) =>
        new(DType.I32, new Shape(GreedyChoice.CheckInputs(inputs, Fail)));
}

/// <summary>
/// What <see cref="GreedyPickOp"/>'s choice scores, per row: F32 (rows, 2) = (its log-prob, its margin over the runner-up;
/// 0 log-prob and margin −1 for a forced row). A separate op because a 16-bit float store may round these but never the token.
/// </summary>
public sealed record GreedyScoreOp(int Eos, float RepeatCap) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs) =>
        new(DType.F32, new Shape(GreedyChoice.CheckInputs(inputs, Fail), 2));
}

public static partial class GraphOps
{
    /// <summary>Greedy token per row of <paramref name="logits"/> (..., V) given each row's <paramref name="previous"/> token.</summary>
    public static Tensor GreedyPick(this Graph g, Tensor logits, Tensor previous, int eos, float repeatCap) =>
        g.Apply(new GreedyPickOp(eos, repeatCap), logits, previous);

    /// <summary>(log-prob, margin) per row of the greedy choice <see cref="GreedyPick"/> makes.</summary>
    public static Tensor GreedyScore(this Graph g, Tensor logits, Tensor previous, int eos, float repeatCap) =>
        g.Apply(new GreedyScoreOp(eos, repeatCap), logits, previous);
}
