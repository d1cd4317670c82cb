using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// T5 as <see cref="GreedyDecoder"/> and <see cref="BeamSearch"/> drive it, on a KV cache: the call for slot t feeds every
/// position below t not fed yet (the first call feeds BOS at position 0), so each call costs one decoder step. A call for
/// slot 1 (or any slot not after the last one) starts a new decode over the same memory. Rows are Batch × beams, with the
/// beams of one batch element adjacent; the compiled decoder is kept while rows and buffer length stay the same.
/// <para>
/// With <c>t5xTargetMasks</c> the self-attention masks are t5x's, built from the decoder target (the buffer shifted left):
/// key j is masked when token j + 1 is 0 (pad). Each step derives its per-row key mask from the buffer as it is, so the
/// result equals rerunning the whole decoder on the buffer (<see cref="PixelLlmDecoder.StepLogits"/>): a key's value
/// only changes later when its next token turns out to be 0, and then every later query masks it. Without it the masks
/// are plain causal (Hugging Face T5).
/// </para>
/// </summary>
public sealed class T5StepLogits : IStepLogits, IGreedyStep, IBeamStep, IDisposable
{
    private readonly DecoderCache<T5IncrementalDecoder> decoders;
    private readonly bool ownsDecoders;
    private readonly T5Config config;
    private readonly HostTensor memory;
    private readonly byte[]? memoryMask;
    private readonly bool targetMasks;
    private T5IncrementalDecoder? decoder;
    private int[] ids = [];
    private byte[] keyMask = [];
    private int fed;                              // positions [0, fed) are in the caches
    private float[] scores = [];

    /// <param name="memory">encoder output (B, Lm, d) F32.</param>
    /// <param name="memoryMask">B × Lm key mask (nonzero = attend), or null when every memory token is valid.</param>
    /// <param name="t5xTargetMasks">mask key j when token j + 1 is 0, as t5x's decoder masks do (PixelLLM).</param>
    /// <param name="greedyEos">with one beam, make the greedy choice in the step graph (<see cref="IGreedyStep"/>) with this EOS.</param>
    public T5StepLogits(IWeightSource weights, T5Config config, IBackend backend, HostTensor memory, byte[]? memoryMask = null, bool t5xTargetMasks = false,
        int? greedyEos = null)
        : this(Cache(weights, config, backend, greedyEos), ownsDecoders: true, config, memory, memoryMask, t5xTargetMasks)
    {
    }

    /// <summary>Decodes with compiled decoders borrowed from <paramref name="decoders"/> (kept across decodes by its owner, see <see cref="Cache"/>).</summary>
    internal T5StepLogits(DecoderCache<T5IncrementalDecoder> decoders, T5Config config, HostTensor memory, byte[]? memoryMask, bool t5xTargetMasks)
        : this(decoders, ownsDecoders: false, config, memory, memoryMask, t5xTargetMasks)
    {
    }

    private T5StepLogits(DecoderCache<T5IncrementalDecoder> decoders, bool ownsDecoders, T5Config config, HostTensor memory, byte[]? memoryMask,
        bool t5xTargetMasks)
    {
        this.config = config;
        if (memory.Shape.Rank != 3 || memory.DType != DType.F32 || memory.Shape[2] != config.DModel)
            throw new InvalidInputException($"T5 memory must be F32 (B, Lm, {config.DModel}), got {memory.Desc}");
        if (memoryMask is not null && memoryMask.Length != memory.Shape[0] * memory.Shape[1])
            throw new InvalidInputException($"T5 memory mask must hold {memory.Shape[0]}×{memory.Shape[1]} values, got {memoryMask.Length}");
        (this.decoders, this.ownsDecoders, this.memory, this.memoryMask, targetMasks) = (decoders, ownsDecoders, memory, memoryMask, t5xTargetMasks);
    }

    /// <summary>The compiled T5 decoders a text model keeps across requests: one-beam ones make the greedy choice with <paramref name="greedyEos"/>.</summary>
    internal static DecoderCache<T5IncrementalDecoder> Cache(IWeightSource weights, T5Config config, IBackend backend, int? greedyEos) =>
        new(greedyEos, (batch, beams, maxLength, memoryLength, eos, beamKeep) =>
            new T5IncrementalDecoder(weights, config, backend, batch, beams, maxLength, memoryLength, eos, beamKeep));

    public int VocabSize => config.VocabSize;
    public int Batch => memory.Shape[0];

    /// <summary>One beam and a greedy EOS given at construction: the step graph makes the greedy choice.</summary>
    public bool CanPick => decoders.GreedyEos is not null;

    public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits) =>
        Feed(sequences, rows, position, parents).FetchLogits(logits[..(rows * VocabSize)]);

    public void ComputeGreedy(ReadOnlySpan<int> sequences, int rows, int position, Span<int> tokens, Span<float> logProbs, Span<float> margins)
    {
        if (rows != Batch) throw new InvalidInputException($"T5 greedy step: {rows} rows for a batch of {Batch} (one beam)");
        var decoder = Feed(sequences, rows, position, default);
        if (!decoder.CanPick) throw new InvalidOperationException("this T5 step was built without the greedy choice");
        if (scores.Length != 2 * rows) scores = new float[2 * rows];
        decoder.FetchGreedy(tokens[..rows], scores);
        for (int r = 0; r < rows; r++) (logProbs[r], margins[r]) = (scores[2 * r], scores[2 * r + 1]);
    }

    /// <summary>Always: the step graph of a beam decode is built with the candidate choice on its first call.</summary>
    public bool CanSelect => true;

    public void ComputeCandidates(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, ReadOnlySpan<float> liveLogProbs,
        int keep, Span<int> indices, Span<float> values)
    {
        if (keep < 1) throw new InvalidInputException($"T5 beam step: keep must be ≥ 1, got {keep}");
        Feed(sequences, rows, position, parents, keep, liveLogProbs).FetchCandidates(indices[..(Batch * keep)], values[..(Batch * keep)]);
    }

    /// <summary>Feeds every position below <paramref name="position"/> not fed yet; the last one's outputs are left to fetch.</summary>
    private T5IncrementalDecoder Feed(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, int? beamKeep = null,
        ReadOnlySpan<float> live = default)
    {
        if (rows < 1 || rows % Batch != 0 || sequences.Length % rows != 0)
            throw new InvalidInputException($"T5 step: {rows} rows over {sequences.Length} tokens do not fit a batch of {Batch}");
        int length = sequences.Length / rows;
        if (position < 1 || position >= length) throw new InvalidInputException($"T5 step: slot {position} is outside [1, {length})");
        if (targetMasks)
            for (int r = 0; r < rows; r++)
                if (sequences[r * length + position] == 0)
                    throw new InvalidInputException($"T5 step: row {r} holds 0 at slot {position}; with t5x masks that makes the query read " +
                        "fully masked, which a KV cache cannot reproduce (fill the slots ahead with EOS)");
        if (decoder is null || decoder.Rows != rows || decoder.MaxLength != length || (beamKeep is not null && decoder.BeamKeep != beamKeep))
        {
            decoder = decoders.Get(Batch, rows / Batch, length, memory.Shape[1], beamKeep);
            ids = new int[rows];
            keyMask = targetMasks ? new byte[rows * length] : [];
            fed = int.MaxValue;
        }
        if (position <= fed)
        {
            decoder.Prefill(memory, memoryMask);
            fed = 0;
        }
        if (beamKeep is not null) decoder.SetLiveLogProbs(live);
        // Reordering applies to what earlier calls cached; positions fed within this call already follow their rows.
        var reorder = fed > 0 ? parents : default;
        for (; fed < position; fed++)
        {
            for (int r = 0; r < rows; r++) ids[r] = sequences[r * length + fed];
            if (targetMasks) TargetKeyMask(sequences, rows, length, fed);
            decoder.Run(ids, fed, reorder, keyMask);
            reorder = default;
        }
        return decoder;
    }

    /// <summary>Key slot j ≤ <paramref name="query"/> of row r is open when the row's token j + 1 is not 0 (t5x target &gt; 0).</summary>
    private void TargetKeyMask(ReadOnlySpan<int> sequences, int rows, int length, int query)
    {
        Array.Clear(keyMask);
        for (int r = 0; r < rows; r++)
        {
            var row = sequences.Slice(r * length, length);
            for (int j = 0; j <= query; j++) keyMask[r * length + j] = row[j + 1] != 0 ? (byte)1 : (byte)0;
        }
    }

    public void Dispose()
    {
        if (ownsDecoders) decoders.Dispose();
    }
}
