using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// The GIT decoder on a KV cache (<see cref="KvCacheStepLogits{TDecoder}"/>) over a prompt memory computed once
/// (<see cref="GitPromptMemory"/>), bound to the cached decoder when a decode starts.
/// </summary>
internal sealed class GitStepLogits : KvCacheStepLogits<GitIncrementalDecoder>
{
    private readonly GitDecoderConfig config;
    private readonly GitPromptMemory memory;

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
        : base(decoders, ownsDecoders, "GIT")
    {
        config.Validate();
        if (memory.Width != config.Hidden || memory.Layers != config.NumLayers)
            throw new InvalidInputException($"GIT step: memory of width {memory.Width} over {memory.Layers} layers does not fit {config}");
        (this.config, this.memory) = (config, memory);
    }

    /// <summary>The compiled GIT decoders a text model keeps across requests: one-beam ones make the greedy choice with <paramref name="greedyEos"/>.</summary>
    internal static DecoderCache<GitIncrementalDecoder> Cache(IWeightSource weights, GitDecoderConfig config, IBackend backend, string prefix, int? greedyEos) =>
        new(greedyEos, (batch, beams, maxLength, memoryLength, eos, beamKeep) =>
            new GitIncrementalDecoder(weights, config, backend, batch, beams, maxLength, memoryLength, prefix, eos, beamKeep));

    public override int VocabSize => config.VocabSize;
    public override int Batch => memory.Batch;
    protected override int MemoryLength => memory.Length;

    protected override void StartDecode(GitIncrementalDecoder step)
    {
        // The cached decoder may hold another request's memory.
        if (!ReferenceEquals(step.BoundMemory, memory)) step.Bind(memory);
    }

    protected override void RunPosition(GitIncrementalDecoder step, ReadOnlySpan<int> sequences, int rows, int length, int position, int[] ids,
        ReadOnlySpan<int> reorder) => step.Run(ids, position, reorder);
}
