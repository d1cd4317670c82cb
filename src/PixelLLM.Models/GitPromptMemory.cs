using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// What every decoding step of the GIT decoder needs from one batch of prompts: the per-layer keys and values of the
/// memory rows (B, M, d) and which memory columns are valid. Memory rows never attend to the caption, so these are
/// computed once per prompt and reused by every step and beam (spec §5.2, §11.1).
/// </summary>
public sealed class GitPromptMemory
{
    /// <param name="keys">per layer, (B, M, d) F32.</param>
    /// <param name="values">per layer, (B, M, d) F32.</param>
    /// <param name="valid">B × M, nonzero where the memory column may be attended.</param>
    public GitPromptMemory(IReadOnlyList<HostTensor> keys, IReadOnlyList<HostTensor> values, byte[] valid)
        : this([.. keys.Select(k => new KeptTensor(k))], [.. values.Select(v => new KeptTensor(v))], valid)
    {
    }

    /// <summary>Keys and values where the decoder's bind graph reads them (on the backend while their graph holds them).</summary>
    internal GitPromptMemory(IReadOnlyList<KeptTensor> keys, IReadOnlyList<KeptTensor> values, byte[] valid)
    {
        if (keys.Count == 0 || keys.Count != values.Count)
            throw new InvalidInputException($"GIT prompt memory: {keys.Count} key and {values.Count} value tensors (one of each per layer)");
        var desc = keys[0].Desc;
        if (desc.DType != DType.F32 || desc.Shape.Rank != 3)
            throw new InvalidInputException($"GIT prompt memory: keys must be F32 (B, M, d), got {desc}");
        foreach (var t in keys.Concat(values))
            if (t.Desc != desc) throw new InvalidInputException($"GIT prompt memory: every key/value must be {desc}, got {t.Desc}");
        if (valid.Length != desc.Shape[0] * desc.Shape[1])
            throw new InvalidInputException($"GIT prompt memory: validity holds {valid.Length} values, expected {desc.Shape[0]}×{desc.Shape[1]}");
        (KeptKeys, KeptValues, Valid) = (keys, values, valid);
    }

    /// <summary>Per layer, (B, M, d) F32 (copied to the host when first read).</summary>
    public IReadOnlyList<HostTensor> Keys => [.. KeptKeys.Select(k => k.Host)];

    /// <summary>Per layer, (B, M, d) F32 (copied to the host when first read).</summary>
    public IReadOnlyList<HostTensor> Values => [.. KeptValues.Select(v => v.Host)];

    internal IReadOnlyList<KeptTensor> KeptKeys { get; }
    internal IReadOnlyList<KeptTensor> KeptValues { get; }

    /// <summary>Only the decoder reads these keys and values: once bound, their graph may overwrite them (set by the text model that made them).</summary>
    internal bool ReleaseOnceBound { get; init; }

    /// <summary>B × M validity of the memory columns (visual always 1, context 1 where the id is not 0).</summary>
    public byte[] Valid { get; }
    private Shape Shape => KeptKeys[0].Desc.Shape;
    public int Batch => Shape[0];
    public int Length => Shape[1];
    public int Width => Shape[2];
    public int Layers => KeptKeys.Count;

    /// <summary>Says no host copies are needed (reading them after their graph runs again throws).</summary>
    internal void Release()
    {
        foreach (var t in KeptKeys.Concat(KeptValues)) t.Release();
    }

    /// <summary>
    /// Runs the memory rows of the stack once: <paramref name="visual"/> (B, K, Dv) F32 prompt-adapter tokens (before
    /// <c>visual_projection</c>) and <paramref name="context"/> (B, Lc) I32 context ids, or null for no context.
    /// <paramref name="weights"/> holds engine names under <paramref name="prefix"/>.
    /// </summary>
    public static GitPromptMemory Compute(IWeightSource weights, GitDecoderConfig config, IBackend backend,
        HostTensor visual, HostTensor? context, string prefix = Checkpoints.ScenicGitNames.EnginePrefix)
    {
        config.Validate();
        if (visual.DType != DType.F32 || visual.Shape.Rank != 3)
            throw new InvalidInputException($"GIT prompt memory: visual tokens must be F32 (B, K, Dv), got {visual.Desc}");
        int batch = visual.Shape[0];
        if (context is not null && (context.DType != DType.I32 || context.Shape.Rank != 2 || context.Shape[0] != batch))
            throw new InvalidInputException($"GIT prompt memory: context ids must be I32 ({batch}, Lc), got {context.Desc}");
        if (context is not null && context.Shape[1] == 0) context = null;
        if (context is not null && context.AsSpan<int>().ToArray().Any(id => id < 0 || id >= config.VocabSize))
            throw new InvalidInputException($"GIT prompt memory: context ids must lie in [0, {config.VocabSize})");

        var g = new Graph();
        var p = new ParamScope(g, weights, prefix);
        var visualIn = g.Input("visual", DType.F32, visual.Shape.ToArray());
        var contextIn = context is null ? null : g.Input("context", DType.I32, context.Shape.ToArray());
        var memory = GitDecoder.Memory(p, config, visualIn, contextIn);
        var valid = GitDecoder.MemoryValidity(g, batch, visual.Shape[1], contextIn);
        var (keys, values) = GitDecoder.MemoryStates(p, config, memory, valid);
        g.Output("valid", valid);
        for (int i = 0; i < config.NumLayers; i++)
        {
            g.Output($"keys.{i}", keys[i]);
            g.Output($"values.{i}", values[i]);
        }
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("visual", visual);
        if (context is not null) exec.SetInput("context", context);
        exec.Run();
        return new GitPromptMemory(
            [.. Enumerable.Range(0, config.NumLayers).Select(i => exec.Fetch($"keys.{i}"))],
            [.. Enumerable.Range(0, config.NumLayers).Select(i => exec.Fetch($"values.{i}"))],
            exec.Fetch("valid").AsSpan<byte>().ToArray());
    }
}
