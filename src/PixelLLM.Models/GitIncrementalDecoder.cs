using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// KV-cached GIT decoding for <c>Batch × Beams</c> rows (beams of one prompt adjacent) of up to <see cref="MaxLength"/>
/// positions: <see cref="Bind"/> once per prompt batch, then <see cref="Step"/> once per position (0, 1, 2, …), each
/// costing one token per row. The step graph (<see cref="GitDecoderStep"/>) is compiled once, here; its caches are
/// backend states. Exact for GIT: caption rows have no padding mask and memory rows never see the caption (errata D7).
/// </summary>
public sealed class GitIncrementalDecoder : IKvCacheDecoder
{
    private readonly GitDecoderConfig config;
    private readonly GraphExecutor step;
    private readonly GraphExecutor bind;
    private readonly byte[] keyMask;                     // Rows × (M + MaxLength)
    private readonly int[] identity;

    /// <param name="greedyEos">also build the greedy choice into the step (one beam only): see <see cref="FetchGreedy"/>.</param>
    /// <param name="beamKeep">also build the choice of this many beam-search candidates per element: see <see cref="FetchCandidates"/>.</param>
    public GitIncrementalDecoder(IWeightSource weights, GitDecoderConfig config, IBackend backend, int batch, int beams,
        int maxLength, int memoryLength, string prefix = Checkpoints.ScenicGitNames.EnginePrefix, int? greedyEos = null, int? beamKeep = null)
    {
        if (batch < 1 || beams < 1) throw new InvalidInputException($"GIT decoder: batch {batch} and beams {beams} must be ≥ 1");
        if (greedyEos is not null && beams != 1) throw new ArgumentException("the greedy choice is built for one beam only", nameof(greedyEos));
        this.config = config;
        Batch = batch; Beams = beams; MaxLength = maxLength; MemoryLength = memoryLength;
        CanPick = greedyEos is not null;
        BeamKeep = beamKeep;
        var g = new Graph();
        GitDecoderStep.Build(new ParamScope(g, weights, prefix), config, Rows, maxLength, memoryLength, rowsMove: beams > 1, greedyEos,
            beamKeep is { } keep ? (beams, keep) : null);
        step = new GraphExecutor(g, backend);
        var bindGraph = new Graph();
        GitMemoryBind.Build(bindGraph, config, batch, beams, maxLength, memoryLength);
        bind = new GraphExecutor(bindGraph, backend, shareStatesWith: step);
        keyMask = new byte[Rows * Slots];
        identity = [.. Enumerable.Range(0, Rows)];
    }

    public int Batch { get; }
    public int Beams { get; }
    public int Rows => Batch * Beams;
    public int MaxLength { get; }
    public int MemoryLength { get; }
    public int VocabSize => config.VocabSize;
    private int Slots => MemoryLength + MaxLength;

    /// <summary>Whether the step graph makes the greedy choice (<see cref="FetchGreedy"/>).</summary>
    public bool CanPick { get; }

    /// <summary>The beam-search candidates per element the step graph chooses (<see cref="FetchCandidates"/>), or null.</summary>
    public int? BeamKeep { get; }

    /// <summary>
    /// Writes one batch of prompt memories into the memory slots of every layer's states; every row of element b
    /// (rows b·Beams …) reads element b. Caption slots need no reset: a step only sees positions ≤ its own.
    /// </summary>
    public void Bind(GitPromptMemory memory)
    {
        BoundMemory = null;
        if (memory.Batch != Batch || memory.Length != MemoryLength || memory.Width != config.Hidden || memory.Layers != config.NumLayers)
            throw new InvalidInputException(
                $"GIT decoder: memory of {memory.Batch}×{memory.Length}×{memory.Width} over {memory.Layers} layers does not fit " +
                $"{Batch}×{MemoryLength}×{config.Hidden} over {config.NumLayers} layers");
        for (int i = 0; i < config.NumLayers; i++)
        {
            memory.KeptKeys[i].Bind(bind, GitMemoryBind.Keys(i));
            memory.KeptValues[i].Bind(bind, GitMemoryBind.Values(i));
        }
        bind.Run();
        if (memory.ReleaseOnceBound) memory.Release();
        for (int r = 0; r < Rows; r++)
            for (int k = 0; k < MemoryLength; k++)
                keyMask[r * Slots + k] = memory.Valid[r / Beams * MemoryLength + k] != 0 ? (byte)1 : (byte)0;
        BoundMemory = memory;
    }

    /// <summary>The memory of the last <see cref="Bind"/> (null before one, or after one that failed).</summary>
    public GitPromptMemory? BoundMemory { get; private set; }

    /// <summary>
    /// Feeds <paramref name="ids"/>[r] at <paramref name="position"/> for every row and writes the logits predicting
    /// position + 1 into <paramref name="logits"/> (Rows × V), and the fed position's last-layer state into
    /// <paramref name="hidden"/> (Rows × d) when given. <paramref name="parents"/> (empty = identity) names the row whose
    /// cache (positions below <paramref name="position"/>) each row continues; it must stay within the row's prompt.
    /// </summary>
    public void Step(ReadOnlySpan<int> ids, int position, ReadOnlySpan<int> parents, Span<float> logits, Span<float> hidden = default)
    {
        Run(ids, position, parents);
        step.FetchInto(GitDecoderStep.Logits, logits);
        if (!hidden.IsEmpty) step.FetchInto(GitDecoderStep.Hidden, hidden);
    }

    /// <summary>
    /// The step of <see cref="Step"/> without reading anything back: fetch the logits, the greedy choice, the beam
    /// candidates or nothing (a position fed only to fill the caches).
    /// </summary>
    public void Run(ReadOnlySpan<int> ids, int position, ReadOnlySpan<int> parents)
    {
        if (BoundMemory is null) throw new InvalidOperationException("GIT decoder: Bind a prompt memory before stepping");
        if (ids.Length != Rows) throw new InvalidInputException($"GIT decoder step expects {Rows} ids, got {ids.Length}");
        if ((uint)position >= (uint)MaxLength) throw new InvalidInputException($"GIT decoder position {position} is outside [0, {MaxLength})");
        foreach (var id in ids)
            if ((uint)id >= (uint)VocabSize) throw new InvalidInputException($"GIT decoder: token id {id} is outside [0, {VocabSize})");
        if (parents.IsEmpty) parents = identity;
        if (parents.Length != Rows) throw new InvalidInputException($"GIT decoder step expects {Rows} parents, got {parents.Length}");
        for (int r = 0; r < Rows; r++)
            if ((uint)parents[r] >= (uint)Rows || parents[r] / Beams != r / Beams)
                throw new InvalidInputException($"GIT decoder: row {r} cannot continue row {parents[r]} (beams of one prompt stay within it)");

        for (int r = 0; r < Rows; r++)
        {
            var caption = keyMask.AsSpan(r * Slots + MemoryLength, MaxLength);
            caption.Clear();
            caption[..(position + 1)].Fill(1);
        }
        step.SetInput(GitDecoderStep.Ids, ids);
        step.SetInput<int>(GitDecoderStep.Position, [position]);
        step.SetInput<int>(GitDecoderStep.Slot, [MemoryLength + position]);
        if (Beams > 1) step.SetInput(GitDecoderStep.Parents, parents); // one beam: validated above to be the identity
        step.SetInput<byte>(GitDecoderStep.KeyMask, keyMask);
        step.Run();
    }

    /// <summary>The logits of the last run, Rows × V.</summary>
    public void FetchLogits(Span<float> logits) => step.FetchInto(GitDecoderStep.Logits, logits);

    /// <summary>The last run's greedy choice per row: tokens (Rows) and (log-prob, margin) pairs (Rows × 2).</summary>
    public void FetchGreedy(Span<int> tokens, Span<float> scores) => StepChoice.FetchGreedy(step, CanPick, tokens, scores, "GIT decoder");

    /// <summary>Each row's live log-prob for the beam candidates of the next <see cref="Run"/> (Rows values).</summary>
    public void SetLiveLogProbs(ReadOnlySpan<float> live) => StepChoice.SetLiveLogProbs(step, BeamKeep, Rows, live, "GIT decoder");

    /// <summary>The last run's beam-search candidates per element: flat indices beam·V + token and their values, best first.</summary>
    public void FetchCandidates(Span<int> indices, Span<float> values) =>
        StepChoice.FetchCandidates(step, BeamKeep, Batch, indices, values, "GIT decoder");

    /// <summary>(B, M, d) as the bind's (B, M·d) input, sharing its data.</summary>

    public void Dispose()
    {
        bind.Dispose();
        step.Dispose();
    }
}
