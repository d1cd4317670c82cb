using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>What <see cref="KvCacheStepLogits{TDecoder}"/> asks of a compiled KV-cache decoder (T5's and GIT's).</summary>
internal interface IKvCacheDecoder : ICompiledDecoder
{
    int Rows { get; }
    void FetchLogits(Span<float> logits);
    /// <summary>Rows tokens and Rows × 2 scores (log-prob, margin); throws when the step was built without the choice.</summary>
    void FetchGreedy(Span<int> tokens, Span<float> scores);
    void SetLiveLogProbs(ReadOnlySpan<float> live);
    void FetchCandidates(Span<int> indices, Span<float> values);
}

/// <summary>
/// A decoder as <see cref="GreedyDecoder"/> and <see cref="BeamSearch"/> drive it, on a KV cache: the call for slot t feeds
/// every position below t not fed yet (the first call feeds BOS at position 0), so each call costs one decoder step. A
/// call for slot 1 (or any slot not after the last one) starts a new decode over the same memory. Rows are Batch × beams,
/// beams of one element adjacent; the compiled decoder (borrowed from a <see cref="DecoderCache{TDecoder}"/>) is kept
/// while rows and buffer length stay the same. The model says how a decode starts and how one position runs.
/// </summary>
internal abstract class KvCacheStepLogits<TDecoder> : IStepLogits, IGreedyStep, IBeamStep, IDisposable
    where TDecoder : class, IKvCacheDecoder
{
    private readonly DecoderCache<TDecoder> decoders;
    private readonly bool ownsDecoders;
    private readonly string model;
    private TDecoder? decoder;
    private int[] ids = [];
    private int fed;                              // positions [0, fed) are in the caches
    private float[] scores = [];

    /// <param name="model">names the model in error messages ("T5", "GIT").</param>
    protected KvCacheStepLogits(DecoderCache<TDecoder> decoders, bool ownsDecoders, string model) =>
        (this.decoders, this.ownsDecoders, this.model) = (decoders, ownsDecoders, model);

    public abstract int VocabSize { get; }
    public abstract int Batch { get; }

    /// <summary>Memory tokens per element (what the compiled decoder is built for).</summary>
    protected abstract int MemoryLength { get; }

    /// <summary>A greedy EOS given at construction: the step graph of a one-beam decode makes the greedy choice.</summary>
    public bool CanPick => decoders.GreedyEos is not null;

    /// <summary>Always: the step graph of a beam decode is built with the candidate choice on its first call.</summary>
    public bool CanSelect => true;

    public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits) =>
        Feed(sequences, rows, position, parents).FetchLogits(logits[..(rows * VocabSize)]);

    public void ComputeGreedy(ReadOnlySpan<int> sequences, int rows, int position, Span<int> tokens, Span<float> logProbs, Span<float> margins)
    {
        if (rows != Batch) throw new InvalidInputException($"{model} greedy step: {rows} rows for a batch of {Batch} (one beam)");
        var step = Feed(sequences, rows, position, default);
        if (scores.Length != 2 * rows) scores = new float[2 * rows];
        step.FetchGreedy(tokens[..rows], scores);
        for (int r = 0; r < rows; r++) (logProbs[r], margins[r]) = (scores[2 * r], scores[2 * r + 1]);
    }

    public void ComputeCandidates(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, ReadOnlySpan<float> liveLogProbs,
        int keep, Span<int> indices, Span<float> values)
    {
        if (keep < 1) throw new InvalidInputException($"{model} beam step: keep must be ≥ 1, got {keep}");
        Feed(sequences, rows, position, parents, keep, liveLogProbs).FetchCandidates(indices[..(Batch * keep)], values[..(Batch * keep)]);
    }

    /// <summary>Checks a call's buffer beyond its shape (T5's t5x masks); throws <see cref="InvalidInputException"/>.</summary>
    protected virtual void CheckSequences(ReadOnlySpan<int> sequences, int rows, int length, int position)
    {
    }

    /// <summary>A decoder of a new shape was taken for <paramref name="rows"/> × <paramref name="length"/> buffers.</summary>
    protected virtual void OnNewShape(int rows, int length)
    {
    }

    /// <summary>A new decode starts on <paramref name="step"/>: put this memory into it.</summary>
    protected abstract void StartDecode(TDecoder step);

    /// <summary>Runs one position: <paramref name="ids"/> holds each row's token at <paramref name="position"/>.</summary>
    protected abstract void RunPosition(TDecoder step, ReadOnlySpan<int> sequences, int rows, int length, int position, int[] ids,
        ReadOnlySpan<int> reorder);

    /// <summary>Feeds every position below <paramref name="position"/> not fed yet; the last one's outputs are left to fetch.</summary>
    private TDecoder Feed(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, int? beamKeep = null,
        ReadOnlySpan<float> live = default)
    {
        if (rows < 1 || rows % Batch != 0 || sequences.Length % rows != 0)
            throw new InvalidInputException($"{model} step: {rows} rows over {sequences.Length} tokens do not fit a batch of {Batch}");
        int length = sequences.Length / rows;
        if (position < 1 || position >= length) throw new InvalidInputException($"{model} step: slot {position} is outside [1, {length})");
        CheckSequences(sequences, rows, length, position);
        if (decoder is null || decoder.Rows != rows || decoder.MaxLength != length || (beamKeep is not null && decoder.BeamKeep != beamKeep))
        {
            decoder = decoders.Get(Batch, rows / Batch, length, MemoryLength, beamKeep);
            ids = new int[rows];
            OnNewShape(rows, length);
            fed = int.MaxValue;
        }
        if (position <= fed)
        {
            StartDecode(decoder);
            fed = 0;
        }
        if (beamKeep is not null) decoder.SetLiveLogProbs(live);
        // Reordering applies to what earlier calls cached; positions fed within this call already follow their rows.
        var reorder = fed > 0 ? parents : default;
        for (; fed < position; fed++)
        {
            for (int r = 0; r < rows; r++) ids[r] = sequences[r * length + fed];
            RunPosition(decoder, sequences, rows, length, fed, ids, reorder);
            reorder = default;
        }
        return decoder;
    }

    public void Dispose()
    {
        if (ownsDecoders) decoders.Dispose();
    }
}
