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
/// </summary>
public sealed class T5StepLogits : IStepLogits, IDisposable
{
    private readonly IWeightSource weights;
    private readonly T5Config config;
    private readonly IBackend backend;
    private readonly HostTensor memory;
    private readonly byte[]? memoryMask;
    private T5IncrementalDecoder? decoder;
    private int[] ids = [];
    private int fed;                              // positions [0, fed) are in the caches

    /// <param name="memory">encoder output (B, Lm, d) F32.</param>
    /// <param name="memoryMask">B × Lm key mask (nonzero = attend), or null when every memory token is valid.</param>
    public T5StepLogits(IWeightSource weights, T5Config config, IBackend backend, HostTensor memory, byte[]? memoryMask = null)
    {
        if (memory.Shape.Rank != 3 || memory.DType != DType.F32 || memory.Shape[2] != config.DModel)
            throw new InvalidInputException($"T5 memory must be F32 (B, Lm, {config.DModel}), got {memory.Desc}");
        if (memoryMask is not null && memoryMask.Length != memory.Shape[0] * memory.Shape[1])
            throw new InvalidInputException($"T5 memory mask must hold {memory.Shape[0]}×{memory.Shape[1]} values, got {memoryMask.Length}");
        this.weights = weights; this.config = config; this.backend = backend; this.memory = memory; this.memoryMask = memoryMask;
    }

    public int VocabSize => config.VocabSize;
    public int Batch => memory.Shape[0];

    public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
    {
        if (rows < 1 || rows % Batch != 0 || sequences.Length % rows != 0)
            throw new InvalidInputException($"T5 step: {rows} rows over {sequences.Length} tokens do not fit a batch of {Batch}");
        int length = sequences.Length / rows;
        if (position < 1 || position >= length) throw new InvalidInputException($"T5 step: slot {position} is outside [1, {length})");
        if (decoder is null || decoder.Rows != rows || decoder.MaxLength != length)
        {
            decoder?.Dispose();
            decoder = new T5IncrementalDecoder(weights, config, backend, Batch, rows / Batch, length, memory.Shape[1]);
            ids = new int[rows];
            fed = int.MaxValue;
        }
        if (position <= fed)
        {
            decoder.Prefill(memory, memoryMask);
            fed = 0;
        }
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
