using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// KV-cached GIT decoding for <c>Batch × Beams</c> rows (beams of one prompt adjacent) of up to <see cref="MaxLength"/>
/// positions: <see cref="Bind"/> once per prompt batch, then <see cref="Step"/> once per position (0, 1, 2, …), each
/// costing one token per row. The step graph is compiled once, here; the caption caches live on the host and are
/// handed to every run (memory keys/values are uploaded once per <see cref="Bind"/> and stay in the arena).
/// Exact for GIT: caption rows have no padding mask and memory rows never see the caption (errata D7).
/// </summary>
public sealed class GitIncrementalDecoder : IDisposable
{
    private readonly GitDecoderConfig config;
    private readonly GraphExecutor step;
    private readonly float[][] cacheKeys, cacheValues;   // per layer Rows × MaxLength × d
    private float[] scratch;
    private readonly byte[] keyMask;                     // Rows × (M + MaxLength + 1)
    private readonly int[] identity;
    private bool bound;

    public GitIncrementalDecoder(IWeightSource weights, GitDecoderConfig config, IBackend backend, int batch, int beams,
        int maxLength, int memoryLength, string prefix = Checkpoints.ScenicGitNames.EnginePrefix)
    {
        if (batch < 1 || beams < 1) throw new InvalidInputException($"GIT decoder: batch {batch} and beams {beams} must be ≥ 1");
        this.config = config;
        Batch = batch; Beams = beams; MaxLength = maxLength; MemoryLength = memoryLength;
        var g = new Graph();
        GitDecoderStep.Build(new ParamScope(g, weights, prefix), config, Rows, maxLength, memoryLength);
        step = new GraphExecutor(g, backend, GitDecoderStep.PersistentInputs(config.NumLayers));
        int cacheSize = Rows * maxLength * config.Hidden;
        cacheKeys = [.. Enumerable.Range(0, config.NumLayers).Select(_ => new float[cacheSize])];
        cacheValues = [.. Enumerable.Range(0, config.NumLayers).Select(_ => new float[cacheSize])];
        scratch = new float[cacheSize];
        keyMask = new byte[Rows * KeySlots];
        identity = [.. Enumerable.Range(0, Rows)];
    }

    public int Batch { get; }
    public int Beams { get; }
    public int Rows => Batch * Beams;
    public int MaxLength { get; }
    public int MemoryLength { get; }
    public int VocabSize => config.VocabSize;
    private int KeySlots => MemoryLength + MaxLength + 1;

    /// <summary>Uploads one batch of prompt memories; every row of element b (rows b·Beams …) reads element b.</summary>
    public void Bind(GitPromptMemory memory)
    {
        if (memory.Batch != Batch || memory.Length != MemoryLength || memory.Width != config.Hidden || memory.Layers != config.NumLayers)
            throw new InvalidInputException(
                $"GIT decoder: memory of {memory.Batch}×{memory.Length}×{memory.Width} over {memory.Layers} layers does not fit " +
                $"{Batch}×{MemoryLength}×{config.Hidden} over {config.NumLayers} layers");
        for (int i = 0; i < config.NumLayers; i++)
        {
            step.SetInput<float>(GitDecoderStep.MemoryKeys(i), TileRows(memory.Keys[i]));
            step.SetInput<float>(GitDecoderStep.MemoryValues(i), TileRows(memory.Values[i]));
        }
        for (int r = 0; r < Rows; r++)
        {
            var row = keyMask.AsSpan(r * KeySlots, KeySlots);
            row.Clear();
            for (int k = 0; k < MemoryLength; k++) row[k] = memory.Valid[r / Beams * MemoryLength + k] != 0 ? (byte)1 : (byte)0;
            row[^1] = 1;                                  // every position sees itself
        }
        bound = true;
    }

    /// <summary>
    /// Feeds <paramref name="ids"/>[r] at <paramref name="position"/> for every row and writes the logits predicting
    /// position + 1 into <paramref name="logits"/> (Rows × V). <paramref name="parents"/> (empty = identity) names the row
    /// whose cache (positions below <paramref name="position"/>) each row continues; it must stay within the row's prompt.
    /// </summary>
    public void Step(ReadOnlySpan<int> ids, int position, ReadOnlySpan<int> parents, Span<float> logits, Span<float> hidden = default)
    {
        if (!bound) throw new InvalidOperationException("GIT decoder: Bind a prompt memory before stepping");
        if (ids.Length != Rows) throw new InvalidInputException($"GIT decoder step expects {Rows} ids, got {ids.Length}");
        if ((uint)position >= (uint)MaxLength) throw new InvalidInputException($"GIT decoder position {position} is outside [0, {MaxLength})");
        if (logits.Length != Rows * VocabSize) throw new InvalidInputException($"GIT decoder step writes {Rows}×{VocabSize} logits, got room for {logits.Length}");
        foreach (var id in ids)
            if ((uint)id >= (uint)VocabSize) throw new InvalidInputException($"GIT decoder: token id {id} is outside [0, {VocabSize})");
        if (parents.IsEmpty) parents = identity;
        if (parents.Length != Rows) throw new InvalidInputException($"GIT decoder step expects {Rows} parents, got {parents.Length}");
        for (int r = 0; r < Rows; r++)
            if ((uint)parents[r] >= (uint)Rows || parents[r] / Beams != r / Beams)
                throw new InvalidInputException($"GIT decoder: row {r} cannot continue row {parents[r]} (beams of one prompt stay within it)");

        if (!parents.SequenceEqual(identity)) ReorderCaches(parents, position);
        for (int r = 0; r < Rows; r++)
        {
            var slots = keyMask.AsSpan(r * KeySlots + MemoryLength, MaxLength);
            slots.Clear();
            slots[..position].Fill(1);
        }
        step.SetInput(GitDecoderStep.Ids, ids);
        step.SetInput<int>(GitDecoderStep.Position, [position]);
        step.SetInput<byte>(GitDecoderStep.KeyMask, keyMask);
        for (int i = 0; i < config.NumLayers; i++)
        {
            step.SetInput<float>(GitDecoderStep.CacheKeys(i), cacheKeys[i]);
            step.SetInput<float>(GitDecoderStep.CacheValues(i), cacheValues[i]);
        }
        step.Run();
        step.Fetch(GitDecoderStep.Logits).AsSpan<float>().CopyTo(logits);
        if (!hidden.IsEmpty) step.Fetch(GitDecoderStep.Hidden).AsSpan<float>().CopyTo(hidden);
        for (int i = 0; i < config.NumLayers; i++)
        {
            Append(cacheKeys[i], step.Fetch(GitDecoderStep.NewKeys(i)).AsSpan<float>(), position);
            Append(cacheValues[i], step.Fetch(GitDecoderStep.NewValues(i)).AsSpan<float>(), position);
        }
    }

    private void Append(float[] cache, ReadOnlySpan<float> fresh, int position)
    {
        int d = config.Hidden;
        for (int r = 0; r < Rows; r++) fresh.Slice(r * d, d).CopyTo(cache.AsSpan((r * MaxLength + position) * d, d));
    }

    private void ReorderCaches(ReadOnlySpan<int> parents, int position)
    {
        int rowSize = MaxLength * config.Hidden, used = position * config.Hidden;
        foreach (var caches in new[] { cacheKeys, cacheValues })
            for (int i = 0; i < caches.Length; i++)
            {
                for (int r = 0; r < Rows; r++)
                    caches[i].AsSpan(parents[r] * rowSize, used).CopyTo(scratch.AsSpan(r * rowSize, used));
                (caches[i], scratch) = (scratch, caches[i]);
            }
    }

    private float[] TileRows(HostTensor perPrompt)
    {
        var source = perPrompt.AsSpan<float>();
        int size = MemoryLength * config.Hidden;
        var tiled = new float[Rows * size];
        for (int r = 0; r < Rows; r++) source.Slice(r / Beams * size, size).CopyTo(tiled.AsSpan(r * size, size));
        return tiled;
    }

    public void Dispose() => step.Dispose();
}
