using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// A beam-search step's candidate choice made next to the logits, so a step hands back <see cref="Keep"/> candidates per
/// batch element instead of Beams × V logits (spec §8.2). Inputs: logits (B·Beams, V), float; each row's live log-prob;
/// the values, which the op writes in place (<see cref="Op.UpdatedInputs"/>). Output: I32 (B, Keep), the flat index
/// beam·V + token of the element's <see cref="Keep"/> best continuations, best first; values: each one's
/// <see cref="BeamCandidateChoice.Scores"/> value (its log-prob plus its row's live log-prob).
/// <para>
/// The order is lax.top_k's: larger first, lower flat index first on ties; NaN ranks above every number. The live
/// log-probs and the values are float32 bit patterns in I32 tensors: a backend that stores F32 tensors in 16 bits would
/// otherwise round the running beam scores at every step.
/// </para>
/// </summary>
public sealed record BeamCandidatesOp(int Beams, int Keep) : Op
{
    public override IReadOnlyList<int> UpdatedInputs => [2];

    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        if (Beams < 1 || Keep < 1) throw Fail($"beams and keep must be ≥ 1, got {Beams} and {Keep}");
        if (inputs.Count != 3) throw Fail($"expected 3 inputs (logits, live, values), got {inputs.Count}");
        var (logits, live, values) = (inputs[0], inputs[1], inputs[2]);
        if (!logits.DType.IsFloat() || logits.Shape.Rank != 2 || logits.Shape[1] < 1 || logits.Shape[0] % Beams != 0)
            throw Fail($"logits must be float (batch × {Beams} beams, V ≥ 1), got {logits}");
        int batch = logits.Shape[0] / Beams;
        long flat = (long)Beams * logits.Shape[1];
        if (flat > int.MaxValue) throw Fail($"beams × V = {flat} exceeds the I32 flat index");
        if (Keep > flat) throw Fail($"keep {Keep} exceeds beams × V = {flat}");
        if (live.DType != DType.I32 || live.ElementCount != logits.Shape[0])
            throw Fail($"live log-probs must be I32 float32 bits with one value per row ({logits.Shape[0]}), got {live}");
        if (values.DType != DType.I32 || values.Shape != new Shape(batch, Keep))
            throw Fail($"values must be I32 float32 bits ({batch}, {Keep}), got {values}");
        return new(DType.I32, new Shape(batch, Keep));
    }
}

/// <summary>
/// The candidate values of one beam row on the host — the reference of <see cref="BeamCandidatesOp"/> and what beam
/// search computes when it has the logits: ((x − max) − log Σ exp(x − max)) + live, rounded in that order.
/// </summary>
public static class BeamCandidateChoice
{
    public static void Scores(ReadOnlySpan<float> logits, float live, Span<float> values)
    {
        var (max, log) = GreedyChoice.Normaliser(logits);
        TensorPrimitives.Subtract(logits, max, values);
        TensorPrimitives.Subtract(values, log, values);
        TensorPrimitives.Add(values, live, values);
    }
}

public static partial class GraphOps
{
    /// <summary>
    /// The <paramref name="keep"/> best continuations per batch element of <paramref name="logits"/> (B·beams, V) given each
    /// row's <paramref name="live"/> log-prob (I32 float bits): flat indices (B, keep), values written into
    /// <paramref name="values"/> (I32 float bits (B, keep)).
    /// </summary>
    public static Tensor BeamCandidates(this Graph g, Tensor logits, Tensor live, Tensor values, int beams, int keep) =>
        g.Apply(new BeamCandidatesOp(beams, keep), logits, live, values);
}
