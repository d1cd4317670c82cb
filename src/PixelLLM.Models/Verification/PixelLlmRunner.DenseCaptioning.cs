using PixelLLM.Models.DenseCaptioning;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Models.Verification;

/// <summary>
/// Dense-captioning cases (component "pixelllm", task "densecap"): in.image and in.context_tokens (one row per slot) →
/// backbones → <see cref="DenseCaptioner"/> (box decoder, then all K slots captioned in one batch with greedy decoding),
/// reporting the pyramid, head maps, proposal and RoI decisions, detections, prompt path and captions under the case's names.
/// </summary>
public sealed partial class PixelLlmRunner
{
    private static bool IsDenseCaptioning(GoldenCase golden) =>
        golden.Root.OptionalText("task") == "densecap";

    private static Dictionary<string, HostTensor> RunDenseCaptioning(GoldenCase golden, IBackend backend)
    {
        var config = ModelConfig(golden);
        using var model = PixelLlmWeights.Create(config, golden.Weights, backend); // the case's scenic tensors or `verify --weights DIR`
        using var captioner = new DenseCaptioner(model);
        var results = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        var image = model.EncodeImage(golden.Input("in.image"), results);
        var context = Rows(golden.Input("in.context_tokens"));
        if (context.Any(r => !r.AsSpan().SequenceEqual(context[0])))
            throw new ModelFileException($"{golden.Name}: in.context_tokens rows differ; dense captioning gives every slot the same context");
        var captions = captioner.DenseCaption(image, context[0], DecodeEngine.FullRerun, results);
        if (captions.Slots != context.Length)
            throw new ModelFileException($"{golden.Name}: {context.Length} context rows for {captions.Slots} detection slots");

        int k = captions.Slots, l = config.MaxCaptionLength;
        Put(results, "out.raw_text_tokens", captions.RawTokens.SelectMany(r => r).ToArray(), 1, k, l);
        Put(results, "out.text_tokens", captions.Tokens.SelectMany(r => r).ToArray(), 1, k, l);
        Put(results, "out.log_probs", captions.LogProbs, 1, k);
        if (captions.GreedyMargins is { } margins)
            Put(results, "out.greedy_margin", margins.SelectMany(m => m).ToArray(), k, margins[0].Length);
        return WithGoldenShapes(golden, results);
    }
}
