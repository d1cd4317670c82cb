using PixelLLM.Models.Common;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.TextModels;

/// <summary>
/// PixelLLM's T5 path (spec §4.3, §5.1): <c>visual_projection</c> into d_model, the T5 encoder over [visual ; context]
/// with the t5x pairwise mask, and the decoder with the target-derived t5x masks. Default engine: the KV cache with the
/// t5x key rule applied per step (<see cref="T5StepLogits"/>), which decodes exactly as the reference's full rerun does;
/// its compiled decoder is kept across requests of one shape.
/// </summary>
internal sealed class T5TextModel(PixelLlmConfig config, IWeightSource weights, IBackend backend) : IPixelLlmTextModel
{
    private const string EncoderMask = "encoder_mask";
    private readonly Dictionary<string, PixelLlmDecoder> decoders = new(StringComparer.Ordinal);
    private DecoderCache<T5IncrementalDecoder>? incremental;

    private T5Config T5 => config.T5;

    public DecodeEngine DefaultEngine => DecodeEngine.KvCache;
    public string EncodingName => "mid.encoder_output";
    public string ValidMaskName => "mid.encoder_valid_mask";

    public void BuildPrompts(Graph g, Tensor adapterTokens, Tensor context)
    {
        int n = adapterTokens.Shape[0], length = adapterTokens.Shape[1] + context.Shape[1];
        var visual = VisualProjection.Build(new ParamScope(g, weights, "visual_projection"), adapterTokens, T5.DModel, config.VisualProjectionEps);
        var encoded = PixelLlmText.Encode(new ParamScope(g, weights, "t5"), T5, visual, context,
            g.Input(EncoderMask, DType.U8, n, 1, length, length));
        g.Output("mid.visual_features", visual);
        g.Output(EncodingName, encoded);
    }

    public void BindPromptInputs(GraphExecutor exec, bool[][] valid) => exec.SetInput(EncoderMask, PixelLlmTokens.PairwiseMask(valid));

    public IStepLogits StepLogits(PromptEncoding encoding, int beams, DecodeEngine engine)
    {
        if (engine == DecodeEngine.KvCache)
        {
            var keyMask = encoding.EncoderValid.SelectMany(r => r.Select(v => (byte)(v ? 1 : 0))).ToArray();
            incremental ??= T5StepLogits.Cache(new ScopedWeights(weights, "t5"), T5, backend, config.EndTokenId);
            return new T5StepLogits(incremental, T5, encoding.KeptEncoder, keyMask, t5xTargetMasks: true);
        }
        return new PixelLlmDecoder.StepLogits(Decoder(encoding.Prompts * beams, encoding.EncoderLength),
            encoding.EncoderOutput.ToFloatArray(), encoding.EncoderValid, beams);
    }

    public TextFeatures TeacherForced(PromptEncoding encoding, int[][] tokens, bool withLogits)
    {
        int n = encoding.Prompts, l = config.MaxCaptionLength;
        var ids = PixelLlmTextModels.FlattenTokens(tokens, n, l);
        // After a KV-cache decode of these prompts its prefill holds their cross-attention keys and values: read, not recomputed.
        var (features, logits) = incremental?.Current is { } prefilled && ReferenceEquals(prefilled.PrefilledFrom, encoding.KeptEncoder) && prefilled.Batch == n
            ? Decoder(n, encoding.EncoderLength, prefilled.Beams).TeacherForced(ids, prefilled, encoding.EncoderValid, withLogits)
            : Decoder(n, encoding.EncoderLength).TeacherForced(ids, encoding.KeptEncoder, encoding.EncoderValid, withLogits);
        return new TextFeatures(features, logits is null ? null : HostTensor.FromArray(logits, n, l, T5.VocabSize));
    }

    private PixelLlmDecoder Decoder(int rows, int encoderLength, int crossRowsPerPrompt = 0)
    {
        var key = $"{rows}x{config.MaxCaptionLength}x{encoderLength}" + (crossRowsPerPrompt == 0 ? "" : $".cross{crossRowsPerPrompt}");
        if (!decoders.TryGetValue(key, out var d))
            decoders[key] = d = new PixelLlmDecoder(weights, T5, backend, rows, config.MaxCaptionLength, encoderLength, crossRowsPerPrompt);
        return d;
    }

    public void Dispose()
    {
        foreach (var d in decoders.Values) d.Dispose();
        decoders.Clear();
        incremental?.Dispose();
        incremental = null;
    }
}
