namespace PixelLLM.Models.Decoding;

/// <summary>
/// The model as decoding sees it: given every row's fixed-length token buffer, the logits that predict position
/// <c>position</c> (i.e. the model's output at <c>position − 1</c>). Implementations may rerun the whole decoder
/// (the reference) or keep a KV cache; rows may be reordered between calls by beam search (see <paramref name="parents"/>).
/// </summary>
public interface IStepLogits
{
    int VocabSize { get; }

    /// <param name="sequences">rows × length token buffer, row-major.</param>
    /// <param name="rows">number of rows (batch × beams).</param>
    /// <param name="position">the slot being written (1 … length − 2).</param>
    /// <param name="parents">for each row, the row of the previous step it continues (identity for greedy), for KV-cache reordering.</param>
    /// <param name="logits">rows × VocabSize output.</param>
    void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits);
}

/// <summary>
/// A step model that can also make the greedy choice itself, next to its logits (<see cref="PixelLLM.Runtime.Ops.GreedyPickOp"/>
/// in its graph: on the GPU a step then copies 12 bytes per row back instead of a vocabulary of logits), exactly as
/// <see cref="GreedyDecoder"/> would on the logits.
/// </summary>
public interface IGreedyStep
{
    /// <summary>Whether <see cref="ComputeGreedy"/> is available (a wrapper may forward to a model without it).</summary>
    bool CanPick { get; }

    /// <summary>
    /// As <see cref="IStepLogits.Compute"/> with identity parents, but returns per row the greedy token for
    /// <paramref name="position"/>, its log-prob and its margin (a row whose previous token is EOS: EOS, 0, −1).
    /// </summary>
    void ComputeGreedy(ReadOnlySpan<int> sequences, int rows, int position, Span<int> tokens, Span<float> logProbs, Span<float> margins);
}

/// <summary>
/// A step model that can also choose a beam-search step's candidates next to its logits
/// (<see cref="PixelLLM.Runtime.Ops.BeamCandidatesOp"/> in its graph: on the GPU a step then copies a few candidates per
/// batch element back instead of beams × V logits), exactly as <see cref="BeamSearch"/> would on the logits.
/// </summary>
public interface IBeamStep
{
    /// <summary>Whether <see cref="ComputeCandidates"/> is available (a wrapper may forward to a model without it).</summary>
    bool CanSelect { get; }

    /// <summary>
    /// As <see cref="IStepLogits.Compute"/>, but returns per batch element (rows / beams of them, beams adjacent) its
    /// <paramref name="keep"/> best continuations, best first: <paramref name="indices"/> holds beam · V + token and
    /// <paramref name="values"/> the token's log-prob plus <paramref name="liveLogProbs"/> of its row
    /// (<see cref="PixelLLM.Runtime.Ops.BeamCandidateChoice.Scores"/>); ties go to the lower flat index.
    /// </summary>
    void ComputeCandidates(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, ReadOnlySpan<float> liveLogProbs,
        int keep, Span<int> indices, Span<float> values);
}

/// <summary>Special ids and lengths shared by both decoders (spec §8).</summary>
public sealed record DecodeOptions(int Bos, int Eos, int Length)
{
    /// <summary>The start buffer [BOS, EOS, EOS, …] every row begins from.</summary>
    public int[] StartBuffer()
    {
        var b = new int[Length];
        Array.Fill(b, Eos);
        b[0] = Bos;
        return b;
    }
}
