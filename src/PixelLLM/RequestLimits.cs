using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>
/// The batch and decode bounds of <see cref="PixelLlmOptions"/>, checked before a request allocates anything. A request's
/// decoder work and memory grow with beams × prompts × decoder length L (the hypotheses it holds, each L positions long).
/// </summary>
internal static class RequestLimits
{
    /// <summary>Beams a decode mode keeps per prompt (greedy: 1).</summary>
    public static int Beams(DecodeMode mode) => mode is DecodeMode.Beam beam ? beam.Options.Beams : 1;

    /// <summary>Refuses more than <see cref="PixelLlmOptions.MaxPromptsPerRequest"/> prompts.</summary>
    public static void CheckPrompts(string task, int prompts, PixelLlmOptions options)
    {
        if (prompts > options.MaxPromptsPerRequest)
            throw new ResourceLimitException($"{task}: {prompts} prompts in one request, more than PixelLlmOptions.MaxPromptsPerRequest " +
                $"({options.MaxPromptsPerRequest}); split the request or raise the option", nameof(PixelLlmOptions.MaxPromptsPerRequest));
    }

    /// <summary>Refuses beams × prompts × length over <see cref="PixelLlmOptions.MaxDecodePositions"/>.</summary>
    public static void CheckDecode(string task, int beams, int prompts, int length, PixelLlmOptions options)
    {
        long positions = (long)beams * prompts * length;
        if (positions > options.MaxDecodePositions)
            throw new ResourceLimitException($"{task}: {beams} beam(s) × {prompts} prompt(s) × length {length} = {positions} decode positions, " +
                $"more than PixelLlmOptions.MaxDecodePositions ({options.MaxDecodePositions})", nameof(PixelLlmOptions.MaxDecodePositions));
    }

    /// <summary>At load: the model's own shapes (caption with one prompt, dense captioning's K slots) must fit the bound.</summary>
    public static void CheckModel(string directory, ModelDecodeShapes shapes, PixelLlmOptions options)
    {
        try
        {
            CheckDecode("caption", Beams(TaskSettings.CaptionTrace.Decoding), 1, shapes.Length, options);
            if (shapes.DenseCaptionSlots is int slots) CheckDecode("densecap", 1, slots, shapes.Length, options);
        }
        catch (ResourceLimitException e)
        {
            throw new ResourceLimitException($"{directory}: config.json's max_caption_length {shapes.Length} is too long for this engine's " +
                $"bounds: {e.Message}", e.Limit);
        }
    }
}

/// <summary>The config values the request bounds depend on.</summary>
internal readonly record struct ModelDecodeShapes(int Length, int? DenseCaptionSlots)
{
    public static ModelDecodeShapes Of(PixelLlmConfig config) => new(config.MaxCaptionLength, config.BoxDecoder?.NumDetections);
}
