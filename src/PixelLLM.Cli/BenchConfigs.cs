using PixelLLM.Models;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// The model configurations <c>pixelllm bench</c> knows: the named configs (<see cref="PixelLlmConfigs"/>), with the decoder
/// buffer set to 22 slots (BOS + 20 tokens + EOS) so every run decodes the same 20-token caption as the PyTorch baseline.
/// </summary>
internal static class BenchConfigs
{
    public const int BenchCaptionSlots = 22;

    public static IReadOnlyList<string> Names => PixelLlmConfigs.Names;

    public static PixelLlmConfig Get(string name)
    {
        if (!PixelLlmConfigs.Names.Contains(name))
            throw new InvalidInputException($"--config: unknown config '{name}' (expected one of {string.Join(", ", Names)})");
        var config = PixelLlmConfigs.Get(name);
        if (config.LanguageModel.Kind != LanguageModelKind.T5)
            throw new InvalidInputException($"--config: '{name}' is a BERT/GIT model; the bench measures the T5 variant's stages (pixelllm-t5xl, pixelllm-tiny)");
        return config with { MaxCaptionLength = BenchCaptionSlots };
    }

    /// <summary>
    /// <paramref name="config"/> with every transformer stack (SAM, EVA02, T5 encoder and decoder) cut to at most
    /// <paramref name="depth"/> blocks, widths unchanged: a mid-size model whose per-block costs are the real ones, for
    /// profiling on a shared machine. SAM keeps one global-attention block, its last.
    /// </summary>
    public static PixelLlmConfig WithDepth(PixelLlmConfig config, int depth)
    {
        if (depth < 1) throw new InvalidInputException($"--depth must be at least 1, got {depth}");
        var sam = config.Sam.Depth <= depth ? config.Sam : config.Sam with { Depth = depth, GlobalAttnIndexes = [depth - 1] };
        var t5 = config.T5 with { NumLayers = Math.Min(depth, config.T5.NumLayers), NumDecoderLayers = Math.Min(depth, config.T5.NumDecoderLayers) };
        return config with
        {
            Sam = sam,
            Eva = config.Eva with { Depth = Math.Min(depth, config.Eva.Depth) },
            LanguageModel = PixelLlmLanguageModel.OfT5(t5),
        };
    }
}
