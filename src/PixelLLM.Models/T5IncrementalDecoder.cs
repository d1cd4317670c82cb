using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// KV-cached T5 decoding for <c>Batch × Beams</c> rows of up to <see cref="MaxLength"/> positions over a memory of
/// <see cref="MemoryLength"/> tokens: <see cref="Prefill"/> once per memory, then <see cref="Step"/> once per position
/// (0, 1, 2, …), each step costing one token's worth of decoder work. Both graphs are compiled once, here.
/// </summary>
public sealed class T5IncrementalDecoder : IKvCacheDecoder
{
    private readonly T5Config config;
    private readonly GraphExecutor step;
    private readonly GraphExecutor prefill;
    private readonly byte[] maskTable;           // (Lmax, Lmax): row p = 1 for key slots ≤ p
    private readonly int[] identity;
    private readonly byte[] rowMask;
    private readonly byte[] stepMask;            // (Rows, Lmax): the self-attention key mask of the current step

    /// <param name="greedyEos">also build the greedy choice into the step (one beam only): see <see cref="FetchGreedy"/>.</param>
    /// <param name="beamKeep">also build the choice of this many beam-search candidates per element into the step: see <see cref="FetchCandidates"/>.</param>
    public T5IncrementalDecoder(IWeightSource weights, T5Config config, IBackend backend, int batch, int beams, int maxLength, int memoryLength,
        int? greedyEos = null, int? beamKeep = null)
    {
        if (greedyEos is not null && beams != 1) throw new ArgumentException("the greedy choice is built for one beam only", nameof(greedyEos));
        this.config = config;
        Batch = batch; Beams = beams; MaxLength = maxLength; MemoryLength = memoryLength;
        CanPick = greedyEos is not null;
        BeamKeep = beamKeep;
        var stepGraph = new Graph();
        T5DecoderStep.Build(new ParamScope(stepGraph, weights), config, Rows, maxLength, memoryLength, rowsMove: beams > 1, greedyEos,
            beamKeep is { } keep ? (beams, keep) : null);
        step = new GraphExecutor(stepGraph, backend);
        var prefillGraph = new Graph();
        T5CrossPrefill.Build(new ParamScope(prefillGraph, weights), config, batch, beams, memoryLength);
        prefill = new GraphExecutor(prefillGraph, backend, shareStatesWith: step);

        maskTable = new byte[maxLength * maxLength];
        for (int q = 0; q < maxLength; q++) maskTable.AsSpan(q * maxLength, q + 1).Fill(1);
        identity = Enumerable.Range(0, Rows).ToArray();
        rowMask = new byte[Rows * memoryLength];
        stepMask = new byte[Rows * maxLength];
    }

    public int Batch { get; }
    public int Beams { get; }
    public int Rows => Batch * Beams;
    public int MaxLength { get; }
    public int MemoryLength { get; }
    public int VocabSize => config.VocabSize;

    /// <summary>Whether the step graph makes the greedy choice (<see cref="FetchGreedy"/>).</summary>
    public bool CanPick { get; }

    /// <summary>The beam-search candidates per element the step graph chooses (<see cref="FetchCandidates"/>), or null.</summary>
    public int? BeamKeep { get; }

    /// <summary>
    /// Binds a memory: encoder output (B, Lm, d) F32 and its key mask (B × Lm values, nonzero = attend; null = all).
    /// Every row of element b (rows b·Beams …) reads it. The self caches need no reset: a step only sees positions ≤ its own.
    /// </summary>
    public void Prefill(HostTensor memory, ReadOnlySpan<byte> memoryMask = default) => Prefill(new KeptTensor(memory), memoryMask);

    /// <summary>
    /// <see cref="Prefill(HostTensor, ReadOnlySpan{byte})"/> from a memory read where it is: copied on the backend while
    /// the graph that computed it still holds it.
    /// </summary>
    public void Prefill(KeptTensor memory, ReadOnlySpan<byte> memoryMask = default)
    {
        var expected = new TensorDesc(DType.F32, new Shape(Batch, MemoryLength, config.DModel));
        if (memory.Desc != expected) throw new InvalidInputException($"T5 decoder memory must be {expected}, got {memory.Desc}");
        if (!memoryMask.IsEmpty && memoryMask.Length != Batch * MemoryLength)
            throw new InvalidInputException($"T5 decoder memory mask must hold {Batch}×{MemoryLength} values, got {memoryMask.Length}");
        for (int r = 0; r < Rows; r++)
            for (int k = 0; k < MemoryLength; k++)
                rowMask[r * MemoryLength + k] = memoryMask.IsEmpty || memoryMask[r / Beams * MemoryLength + k] != 0 ? (byte)1 : (byte)0;
        PrefilledFrom = null;
        step.SetInput<byte>(T5DecoderStep.CrossMask, rowMask);
        memory.Bind(prefill, T5CrossPrefill.Memory);
        prefill.Run();
        PrefilledFrom = memory;
    }

    /// <summary>The memory of the last <see cref="Prefill(KeptTensor, ReadOnlySpan{byte})"/> (null before one, or after one that failed).</summary>
    public KeptTensor? PrefilledFrom { get; private set; }

    /// <summary>
    /// Sets inputs <see cref="T5DecoderStep.CrossKey"/>(i) / <see cref="T5DecoderStep.CrossValue"/>(i) of
    /// <paramref name="exec"/> to every layer's prefilled cross-attention keys and values, (Rows, Lm, inner) each, copied on
    /// the backend.
    /// </summary>
    public void BindCrossStates(GraphExecutor exec)
    {
        if (PrefilledFrom is null) throw new InvalidOperationException("T5 decoder: no prefill to read cross-attention states from");
        for (int i = 0; i < config.NumDecoderLayers; i++)
        {
            exec.SetInput(T5DecoderStep.CrossKey(i), step, T5DecoderStep.CrossKey(i));
            exec.SetInput(T5DecoderStep.CrossValue(i), step, T5DecoderStep.CrossValue(i));
        }
    }

    /// <summary>
    /// Feeds token <paramref name="ids"/>[r] of every row at <paramref name="position"/> and writes the logits that predict
    /// position + 1 into <paramref name="logits"/> (Rows × V). <paramref name="parents"/> (empty = identity) says which row
    /// of the previous step each row continues; it must stay within the row's batch element (beams share its memory).
    /// Every row attends to all key slots fed so far (0 … position).
    /// </summary>
    public void Step(ReadOnlySpan<int> ids, int position, ReadOnlySpan<int> parents, Span<float> logits) =>
        Step(ids, position, parents, logits, default);

    /// <summary>
    /// <see cref="Step(ReadOnlySpan{int}, int, ReadOnlySpan{int}, Span{float})"/> with a self-attention key mask per row:
    /// <paramref name="keyMask"/> holds Rows × <see cref="MaxLength"/> values (nonzero = attend), and may only open slots
    /// 0 … position (later slots hold no keys yet); empty means every slot fed so far.
    /// </summary>
    public void Step(ReadOnlySpan<int> ids, int position, ReadOnlySpan<int> parents, Span<float> logits, ReadOnlySpan<byte> keyMask)
    {
        Run(ids, position, parents, keyMask);
        step.FetchInto(T5DecoderStep.Logits, logits);
    }

    /// <summary>
    /// The step of <see cref="Step(ReadOnlySpan{int}, int, ReadOnlySpan{int}, Span{float}, ReadOnlySpan{byte})"/> without
    /// reading anything back: fetch the logits, the greedy choice or nothing (a position fed only to fill the caches).
    /// </summary>
    public void Run(ReadOnlySpan<int> ids, int position, ReadOnlySpan<int> parents, ReadOnlySpan<byte> keyMask)
    {
        if (ids.Length != Rows) throw new InvalidInputException($"T5 decoder step expects {Rows} ids, got {ids.Length}");
        if ((uint)position >= (uint)MaxLength) throw new InvalidInputException($"T5 decoder position {position} is outside [0, {MaxLength})");
        if (parents.IsEmpty) parents = identity;
        if (parents.Length != Rows) throw new InvalidInputException($"T5 decoder step expects {Rows} parents, got {parents.Length}");
        for (int r = 0; r < Rows; r++)
            if ((uint)parents[r] >= (uint)Rows || parents[r] / Beams != r / Beams)
                throw new InvalidInputException($"T5 decoder: row {r} cannot continue row {parents[r]} (beams of one element stay within it)");
        var causal = maskTable.AsSpan(position * MaxLength, MaxLength);
        if (keyMask.IsEmpty)
            for (int r = 0; r < Rows; r++) causal.CopyTo(stepMask.AsSpan(r * MaxLength, MaxLength));
        else
        {
            if (keyMask.Length != stepMask.Length)
                throw new InvalidInputException($"T5 decoder key mask must hold {Rows}×{MaxLength} values, got {keyMask.Length}");
            for (int i = 0; i < stepMask.Length; i++)
            {
                if (keyMask[i] != 0 && causal[i % MaxLength] == 0)
                    throw new InvalidInputException($"T5 decoder key mask: row {i / MaxLength} opens slot {i % MaxLength}, after position {position}");
                stepMask[i] = keyMask[i] != 0 ? (byte)1 : (byte)0;
            }
        }
        step.SetInput(T5DecoderStep.Ids, ids);
        step.SetInput<int>(T5DecoderStep.Position, [position]);
        if (Beams > 1) step.SetInput(T5DecoderStep.Parents, parents); // one beam: validated above to be the identity
        step.SetInput<byte>(T5DecoderStep.SelfMask, stepMask);
        step.Run();
    }

    /// <summary>The logits of the last step, Rows × V.</summary>
    public void FetchLogits(Span<float> logits) => step.FetchInto(T5DecoderStep.Logits, logits);

    /// <summary>
    /// The last step's greedy choice per row (the fed token as the previous one): <paramref name="tokens"/> (Rows) and
    /// <paramref name="scores"/> (Rows × 2: log-prob, margin). Only when built with a greedy EOS.
    /// </summary>
    public void FetchGreedy(Span<int> tokens, Span<float> scores) =>
        StepChoice.FetchGreedy(step, CanPick, tokens, scores, "T5 decoder");

    /// <summary>Each row's live log-prob for the beam candidates of the next <see cref="Run"/> (Rows values).</summary>
    public void SetLiveLogProbs(ReadOnlySpan<float> live) => StepChoice.SetLiveLogProbs(step, BeamKeep, Rows, live, "T5 decoder");

    /// <summary>
    /// The last step's beam-search candidates per element (<see cref="Runtime.Ops.BeamCandidatesOp"/>): flat indices
    /// beam·V + token and their values, Batch × <see cref="BeamKeep"/> each, best first.
    /// </summary>
    public void FetchCandidates(Span<int> indices, Span<float> values) =>
        StepChoice.FetchCandidates(step, BeamKeep, Batch, indices, values, "T5 decoder");

    /// <summary>The final-normed decoder state of the last step, Rows × d.</summary>
    public void FetchHidden(Span<float> hidden) => step.FetchInto(T5DecoderStep.Hidden, hidden);

    public void Dispose()
    {
        prefill.Dispose();
        step.Dispose();
    }
}
