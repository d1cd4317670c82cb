using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// T5 on a KV cache (<see cref="KvCacheStepLogits{TDecoder}"/>): a decode starts by prefilling the cross-attention
/// states from the encoder output.
/// <para>
/// With <c>t5xTargetMasks</c> the self-attention masks are t5x's, built from the decoder target (the buffer shifted left):
/// key j is masked when token j + 1 is 0 (pad). Each step derives its per-row key mask from the buffer as it is, so the
/// result equals rerunning the whole decoder on the buffer (<see cref="PixelLlmDecoder.StepLogits"/>): a key's value
/// only changes later when its next token turns out to be 0, and then every later query masks it. Without it the masks
/// are plain causal (Hugging Face T5).
/// </para>
/// </summary>
internal sealed class T5StepLogits : KvCacheStepLogits<T5IncrementalDecoder>
{
    private readonly T5Config config;
    private readonly KeptTensor memory;
    private readonly byte[]? memoryMask;
    private readonly bool targetMasks;
    private byte[] keyMask = [];

    /// <param name="memory">encoder output (B, Lm, d) F32.</param>
    /// <param name="memoryMask">B × Lm key mask (nonzero = attend), or null when every memory token is valid.</param>
    /// <param name="t5xTargetMasks">mask key j when token j + 1 is 0, as t5x's decoder masks do (PixelLLM).</param>
    /// <param name="greedyEos">with one beam, make the greedy choice in the step graph (<see cref="IGreedyStep"/>) with this EOS.</param>
    public T5StepLogits(IWeightSource weights, T5Config config, IBackend backend, HostTensor memory, byte[]? memoryMask = null, bool t5xTargetMasks = false,
        int? greedyEos = null)
        : this(Cache(weights, config, backend, greedyEos), ownsDecoders: true, config, new KeptTensor(memory), memoryMask, t5xTargetMasks)
    {
    }

    /// <summary>Decodes with compiled decoders borrowed from <paramref name="decoders"/> (kept across decodes by its owner, see <see cref="Cache"/>).</summary>
    /// <param name="memory">encoder output (B, Lm, d) F32, read where it is (on the backend while resident).</param>
    internal T5StepLogits(DecoderCache<T5IncrementalDecoder> decoders, T5Config config, KeptTensor memory, byte[]? memoryMask, bool t5xTargetMasks)
        : this(decoders, ownsDecoders: false, config, memory, memoryMask, t5xTargetMasks)
    {
    }

    private T5StepLogits(DecoderCache<T5IncrementalDecoder> decoders, bool ownsDecoders, T5Config config, KeptTensor memory, byte[]? memoryMask,
        bool t5xTargetMasks)
        : base(decoders, ownsDecoders, "T5")
    {
        this.config = config;
        var shape = memory.Desc.Shape;
        if (shape.Rank != 3 || memory.Desc.DType != DType.F32 || shape[2] != config.DModel)
            throw new InvalidInputException($"T5 memory must be F32 (B, Lm, {config.DModel}), got {memory.Desc}");
        if (memoryMask is not null && memoryMask.Length != shape[0] * shape[1])
            throw new InvalidInputException($"T5 memory mask must hold {shape[0]}×{shape[1]} values, got {memoryMask.Length}");
        (this.memory, this.memoryMask, targetMasks) = (memory, memoryMask, t5xTargetMasks);
    }

    /// <summary>The compiled T5 decoders a text model keeps across requests: one-beam ones make the greedy choice with <paramref name="greedyEos"/>.</summary>
    internal static DecoderCache<T5IncrementalDecoder> Cache(IWeightSource weights, T5Config config, IBackend backend, int? greedyEos) =>
        new(greedyEos, (batch, beams, maxLength, memoryLength, eos, beamKeep) =>
            new T5IncrementalDecoder(weights, config, backend, batch, beams, maxLength, memoryLength, eos, beamKeep));

    public override int VocabSize => config.VocabSize;
    public override int Batch => memory.Desc.Shape[0];
    protected override int MemoryLength => memory.Desc.Shape[1];

    protected override void CheckSequences(ReadOnlySpan<int> sequences, int rows, int length, int position)
    {
        if (!targetMasks) return;
        for (int r = 0; r < rows; r++)
            if (sequences[r * length + position] == 0)
                throw new InvalidInputException($"T5 step: row {r} holds 0 at slot {position}; with t5x masks that makes the query read " +
                    "fully masked, which a KV cache cannot reproduce (fill the slots ahead with EOS)");
    }

    protected override void OnNewShape(int rows, int length) => keyMask = targetMasks ? new byte[rows * length] : [];

    protected override void StartDecode(T5IncrementalDecoder step) => step.Prefill(memory, memoryMask);

    protected override void RunPosition(T5IncrementalDecoder step, ReadOnlySpan<int> sequences, int rows, int length, int position, int[] ids,
        ReadOnlySpan<int> reorder)
    {
        if (targetMasks) TargetKeyMask(sequences, rows, length, position);
        step.Run(ids, position, reorder, keyMask);
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
}
