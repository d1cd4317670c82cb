namespace PixelLLM.Models.Decoding;

/// <summary>
/// Sees the token buffer each time the decoder asks for the logits of <paramref name="position"/>: every slot before it has
/// been written (rows × length, row-major). Used to stream tokens and report progress; it must not keep the span.
/// </summary>
public delegate void DecodeObserver(int position, ReadOnlySpan<int> sequences, int rows);

/// <summary>An <see cref="IStepLogits"/> that tells an observer about every step before computing it.</summary>
internal sealed class ObservedStepLogits(IStepLogits inner, DecodeObserver observer) : IStepLogits, IGreedyStep, IBeamStep
{
    public int VocabSize => inner.VocabSize;

    public bool CanPick => inner is IGreedyStep { CanPick: true };

    public void ComputeGreedy(ReadOnlySpan<int> sequences, int rows, int position, Span<int> tokens, Span<float> logProbs, Span<float> margins)
    {
        observer(position, sequences, rows);
        ((IGreedyStep)inner).ComputeGreedy(sequences, rows, position, tokens, logProbs, margins);
    }

    public bool CanSelect => inner is IBeamStep { CanSelect: true };

    public void ComputeCandidates(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, ReadOnlySpan<float> liveLogProbs,
        int keep, Span<int> indices, Span<float> values)
    {
        observer(position, sequences, rows);
        ((IBeamStep)inner).ComputeCandidates(sequences, rows, position, parents, liveLogProbs, keep, indices, values);
    }

    public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
    {
        observer(position, sequences, rows);
        inner.Compute(sequences, rows, position, parents, logits);
    }
}
