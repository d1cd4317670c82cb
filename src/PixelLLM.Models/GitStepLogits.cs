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
public sealed class GitStepLogits : IStepLogits, IDisposable
{
    private readonly IWeightSource weights;
    private readonly GitDecoderConfig config;
    private readonly IBackend backend;
    private readonly GitPromptMemory memory;
    private readonly string prefix;
    private GitIncrementalDecoder? decoder;
    private int[] ids = [];
    private int fed;                              // positions [0, fed) are in the caches

    public GitStepLogits(IWeightSource weights, GitDecoderConfig config, IBackend backend, GitPromptMemory memory,
        string prefix = Checkpoints.ScenicGitNames.EnginePrefix)
    {
        config.Validate();
        if (memory.Width != config.Hidden || memory.Layers != config.NumLayers)
            throw new InvalidInputException($"GIT step: memory of width {memory.Width} over {memory.Layers} layers does not fit {config}");
        this.weights = weights; this.config = config; this.backend = backend; this.memory = memory; this.prefix = prefix;
    }

    public int VocabSize => config.VocabSize;
    public int Batch => memory.Batch;

    public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
    {
        if (rows < 1 || rows % Batch != 0 || sequences.Length % rows != 0)
            throw new InvalidInputException($"GIT step: {rows} rows over {sequences.Length} tokens do not fit a batch of {Batch}");
        int length = sequences.Length / rows;
        if (position < 1 || position >= length) throw new InvalidInputException($"GIT step: slot {position} is outside [1, {length})");
        if (decoder is null || decoder.Rows != rows || decoder.MaxLength != length)
        {
            decoder?.Dispose();
            decoder = new GitIncrementalDecoder(weights, config, backend, Batch, rows / Batch, length, memory.Length, prefix);
            decoder.Bind(memory);
            ids = new int[rows];
            fed = int.MaxValue;
        }
        if (position <= fed) fed = 0;
        // Reordering applies to what earlier calls cached; positions fed within this call already follow their rows.
        var reorder = fed > 0 ? parents : default;
        for (; fed < position; fed++)
        {
            for (int r = 0; r < rows; r++) ids[r] = sequences[r * length + fed];
            decoder.Step(ids, fed, reorder, logits);
            reorder = default;
        }
    }

    public void Dispose() => decoder?.Dispose();
}
