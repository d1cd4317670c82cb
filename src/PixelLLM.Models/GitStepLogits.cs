using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// The GIT decoder as <see cref="GreedyDecoder"/> and <see cref="BeamSearch"/> drive it, on a KV cache over a prompt
/// memory computed once (<see cref="GitPromptMemory"/>): the call for slot t feeds every position below t not fed yet
/// (the first call feeds BOS at position 0), so each call costs one decoder step. A call for slot 1 (or any slot not
/// after the last one) starts a new decode over the same memory. Rows are Batch × beams, beams of one prompt adjacent;
/// the compiled step is kept while rows and buffer length stay the same.
/// </summary>
public sealed class GitStepLogits : IStepLogits, IGreedyStep, IBeamStep, IDisposable
{
    private readonly DecoderCache<GitIncrementalDecoder> decoders;
    private readonly bool ownsDecoders;
    private readonly GitDecoderConfig config;
    private readonly GitPromptMemory memory;
    private GitIncrementalDecoder? decoder;
    private int[] ids = [];
    private int fed;                              // positions [0, fed) are in the caches
    private float[] scores = [];

    /// <param name="greedyEos">with one beam, make the greedy choice in the step graph (<see cref="IGreedyStep"/>) with this EOS.</param>
    public GitStepLogits(IWeightSource weights, GitDecoderConfig config, IBackend backend, GitPromptMemory memory,
        string prefix = Checkpoints.ScenicGitNames.EnginePrefix, int? greedyEos = null)
        : this(Cache(weights, config, backend, prefix, greedyEos), ownsDecoders: true, config, memory)
    {
    }

    /// <summary>Decodes with compiled decoders borrowed from <paramref name="decoders"/> (kept across decodes by its owner, see <see cref="Cache"/>).</summary>
    internal GitStepLogits(DecoderCache<GitIncrementalDecoder> decoders, GitDecoderConfig config, GitPromptMemory memory)
        : this(decoders, ownsDecoders: false, config, memory)
    {
    }

    private GitStepLogits(DecoderCache<GitIncrementalDecoder> decoders, bool ownsDecoders, GitDecoderConfig config, GitPromptMemory memory)
    {
        config.Validate();
        if (memory.Width != config.Hidden || memory.Layers != config.NumLayers)
            throw new InvalidInputException($"GIT step: memory of width {memory.Width} over {memory.Layers} layers does not fit {config}");
        (this.decoders, this.ownsDecoders, this.config, this.memory) = (decoders, ownsDecoders, config, memory);
    }

    /// <summary>The compiled GIT decoders a text model keeps across requests: one-beam ones make the greedy choice with <paramref name="greedyEos"/>.</summary>
    internal static DecoderCache<GitIncrementalDecoder> Cache(IWeightSource weights, GitDecoderConfig config, IBackend backend, string prefix, int? greedyEos) =>
        new(greedyEos, (batch, beams, maxLength, memoryLength, eos, beamKeep) =>
            new GitIncrementalDecoder(weights, config, backend, batch, beams, maxLength, memoryLength, prefix, eos, beamKeep));

    public int VocabSize => config.VocabSize;
    public int Batch => memory.Batch;

    /// <summary>A greedy EOS given at construction: the step graph of a one-beam decode makes the greedy choice.</summary>
    public bool CanPick => decoders.GreedyEos is not null;

    /// <summary>Always: the step graph of a beam decode is built with the candidate choice on its first call.</summary>
    public bool CanSelect => true;

    public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits) =>
        Feed(sequences, rows, position, parents).FetchLogits(logits[..(rows * VocabSize)]);

    public void ComputeGreedy(ReadOnlySpan<int> sequences, int rows, int position, Span<int> tokens, Span<float> logProbs, Span<float> margins)
    {
        if (rows != Batch) throw new InvalidInputException($"GIT greedy step: {rows} rows for a batch of {Batch} (one beam)");
        var step = Feed(sequences, rows, position, default);
        if (scores.Length != 2 * rows) scores = new float[2 * rows];
        step.FetchGreedy(tokens[..rows], scores);
        for (int r = 0; r < rows; r++) (logProbs[r], margins[r]) = (scores[2 * r], scores[2 * r + 1]);
    }

    public void ComputeCandidates(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, ReadOnlySpan<float> liveLogProbs,
        int keep, Span<int> indices, Span<float> values)
    {
        if (keep < 1) throw new InvalidInputException($"GIT beam step: keep must be ≥ 1, got {keep}");
        Feed(sequences, rows, position, parents, keep, liveLogProbs).FetchCandidates(indices[..(Batch * keep)], values[..(Batch * keep)]);
    }

    /// <summary>Feeds every position below <paramref name="position"/> not fed yet; the last one's outputs are left to fetch.</summary>
    private GitIncrementalDecoder Feed(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, int? beamKeep = null,
        ReadOnlySpan<float> live = default)
    {
        if (rows < 1 || rows % Batch != 0 || sequences.Length % rows != 0)
            throw new InvalidInputException($"GIT step: {rows} rows over {sequences.Length} tokens do not fit a batch of {Batch}");
        int length = sequences.Length / rows;
        if (position < 1 || position >= length) throw new InvalidInputException($"GIT step: slot {position} is outside [1, {length})");
        if (decoder is null || decoder.Rows != rows || decoder.MaxLength != length || (beamKeep is not null && decoder.BeamKeep != beamKeep))
        {
            decoder = decoders.Get(Batch, rows / Batch, length, memory.Length, beamKeep);
            ids = new int[rows];
            fed = int.MaxValue;
        }
        if (position <= fed)
        {
            // A new decode: the cached decoder may hold another request's memory.
            if (!ReferenceEquals(decoder.BoundMemory, memory)) decoder.Bind(memory);
            fed = 0;
        }
        if (beamKeep is not null) decoder.SetLiveLogProbs(live);
        // Reordering applies to what earlier calls cached; positions fed within this call already follow their rows.
        var reorder = fed > 0 ? parents : default;
        for (; fed < position; fed++)
        {
            for (int r = 0; r < rows; r++) ids[r] = sequences[r * length + fed];
            decoder.Run(ids, fed, reorder);
            reorder = default;
        }
        return decoder;
    }

    public void Dispose()
    {
        if (ownsDecoders) decoders.Dispose();
    }
}
