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
}
