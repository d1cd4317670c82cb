using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.TextModels;

/// <summary>
/// PixelLLM's BERT/GIT path (spec §2.4, §5.2): the prompt-adapter tokens enter <c>git.visual_projection</c> unprojected
/// (no visual_project_layers), the prompt encoding is the layer-0 memory [visual ; context embeddings], and one stack
/// runs over [memory ; caption]. Default engine: the KV cache — exact for GIT (no target-derived masks, errata D7) and
/// checked against the goldens like the full rerun; memory keys/values are computed once per prompt batch.
/// </summary>
internal sealed class GitTextModel(PixelLlmConfig config, IWeightSource weights, IBackend backend) : IPixelLlmTextModel
{
    private readonly Dictionary<string, GitFullDecoder> decoders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GraphExecutor> memoryGraphs = new(StringComparer.Ordinal);
    private DecoderCache<GitIncrementalDecoder>? incremental;

    private GitDecoderConfig Git => config.Git;

    public DecodeEngine DefaultEngine => DecodeEngine.KvCache;
    public string EncodingName => "mid.memory";
    public string ValidMaskName => "mid.memory_valid_mask";

    public void BuildPrompts(Graph g, Tensor adapterTokens, Tensor context)
    {
        var memory = GitDecoder.Memory(new ParamScope(g, weights, ScenicGitNames.EnginePrefix), Git, adapterTokens, context);
        // No visual_project_layers in the GIT variant: the decoder's visual input is the adapter output itself.
        g.Output("mid.visual_features", adapterTokens);
        g.Output(EncodingName, memory);
    }

    public void BindPromptInputs(GraphExecutor exec, bool[][] valid) { }

    public IStepLogits StepLogits(PromptEncoding encoding, int beams, DecodeEngine engine)
    {
        if (engine == DecodeEngine.KvCache)
        {
            incremental ??= GitStepLogits.Cache(weights, Git, backend, ScenicGitNames.EnginePrefix, config.EndTokenId);
            return new GitStepLogits(incremental, Git, PromptMemory(encoding));
        }
        return new GitFullDecoder.StepLogits(Decoder(encoding.Prompts * beams, encoding.EncoderLength),
            encoding.EncoderOutput.ToFloatArray(), encoding.EncoderValid, beams);
    }

    public TextFeatures TeacherForced(PromptEncoding encoding, int[][] tokens, bool withLogits)
    {
        int n = encoding.Prompts, l = config.MaxCaptionLength;
        var ids = PixelLlmTextModels.FlattenTokens(tokens, n, l);
        var (features, logits) = Decoder(n, encoding.EncoderLength).TeacherForced(ids, encoding.KeptEncoder, encoding.EncoderValid, withLogits);
        return new TextFeatures(features, logits is null ? null : HostTensor.FromArray(logits, n, l, Git.VocabSize));
    }

    /// <summary>Per-layer keys and values of the memory rows (they never see the caption), from the prompt encoding.</summary>
    private GitPromptMemory PromptMemory(PromptEncoding encoding)
    {
        int n = encoding.Prompts, m = encoding.EncoderLength;
        var key = $"{n}x{m}";
        if (!memoryGraphs.TryGetValue(key, out var exec))
        {
            var g = new Graph();
            var p = new ParamScope(g, weights, ScenicGitNames.EnginePrefix);
            var (keys, values) = GitDecoder.MemoryStates(p, Git, g.Input("memory", DType.F32, n, m, Git.Hidden), g.Input("valid", DType.U8, n, m));
            for (int i = 0; i < Git.NumLayers; i++)
            {
                g.Output($"keys.{i}", keys[i]);
                g.Output($"values.{i}", values[i]);
            }
            memoryGraphs[key] = exec = new GraphExecutor(g, backend);
        }
        var valid = encoding.EncoderValid.SelectMany(r => r.Select(v => (byte)(v ? 1 : 0))).ToArray();
        encoding.KeptEncoder.Bind(exec, "memory");
        exec.SetInput("valid", HostTensor.FromArray(valid, n, m));
        exec.Run();
        // Left where they are: the decoder's bind copies them into its states on the backend, and nothing else reads them.
        return new GitPromptMemory([.. Enumerable.Range(0, Git.NumLayers).Select(i => exec.Keep($"keys.{i}"))],
            [.. Enumerable.Range(0, Git.NumLayers).Select(i => exec.Keep($"values.{i}"))], valid) { ReleaseOnceBound = true };
    }

    private GitFullDecoder Decoder(int rows, int memoryLength)
    {
        var key = $"{rows}x{config.MaxCaptionLength}x{memoryLength}";
        if (!decoders.TryGetValue(key, out var d))
            decoders[key] = d = new GitFullDecoder(weights, Git, backend, rows, config.MaxCaptionLength, memoryLength);
        return d;
    }

    public void Dispose()
    {
        foreach (var d in decoders.Values) d.Dispose();
        foreach (var e in memoryGraphs.Values) e.Dispose();
        incremental?.Dispose();
        incremental = null;
        decoders.Clear();
        memoryGraphs.Clear();
    }
}
