using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// The greedy decoding choice per row (spec §8.1, errata B5) made next to the logits, so a decode step hands back a few
/// bytes per row instead of a vocabulary of logits: inputs logits (..., V), each row's previous token (I32, one value per
/// row) and the scores (F32 (rows, 2)), which the op writes in place (<see cref="Op.UpdatedInputs"/>). The previous
/// token's logit is capped at <see cref="RepeatCap"/>; a row whose previous token is <see cref="Eos"/> is forced to EOS.
/// Output: the chosen token per row, I32 (rows) — the first index of the largest log-softmax value
/// (<see cref="GreedyChoice"/>); scores: its log-prob and its margin over the runner-up (0 and −1 for a forced row). The
/// token is an I32 output because a 16-bit float store may round the scores but never the token. A previous token
/// outside [0, V) fails at run time.
/// </summary>
public sealed record GreedyPickOp(int Eos, float RepeatCap) : Op
{
    public override IReadOnlyList<int> UpdatedInputs => [2];

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        if (inputs.Count != 3) throw Fail($"expected 3 inputs (logits, previous, scores), got {inputs.Count}");
        int rows = GreedyChoice.CheckInputs([inputs[0], inputs[1]], Fail);
        if (inputs[2].DType != DType.F32 || inputs[2].Shape != new Shape(rows, 2)) throw Fail($"scores must be F32 ({rows}, 2), got {inputs[2]}");
        return new(DType.I32, new Shape(rows));
    }
}

public static partial class GraphOps
{
    /// <summary>
    /// Greedy token per row of <paramref name="logits"/> (..., V) given each row's <paramref name="previous"/> token, with
    /// (log-prob, margin) written into <paramref name="scores"/> (rows, 2).
    /// </summary>
    public static Tensor GreedyPick(this Graph g, Tensor logits, Tensor previous, Tensor scores, int eos, float repeatCap) =>
        g.Apply(new GreedyPickOp(eos, repeatCap), logits, previous, scores);
}
