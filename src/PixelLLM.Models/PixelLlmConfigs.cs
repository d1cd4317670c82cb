using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>
/// The named PixelLLM configurations shipped with the engine (embedded <c>Configs/&lt;name&gt;.json</c>), each a
/// scenic-style model config as <see cref="PixelLlmConfigJson.FromScenic"/> reads it:
/// <list type="bullet">
/// <item><c>pixelllm-t5xl</c>: the paper's T5 model — SAM ViT-H, EVA02-L, prompt adapter, Flan-T5-XL with LoRA rank 32
///   on q/v, point head; canvas 384, L = 128 (the trace config; spec §0–§6).</item>
/// <item><c>pixelllm-bert</c>: the same vision side with the 6-layer BERT/GIT decoder (bert-base-uncased vocabulary).</item>
/// <item><c>pixelllm-t5xl-densecap</c>: the T5 model of scenic's densecap config — no point head, the CenterNet2 box
///   decoder at scenic's sizes (spec §7.1, errata E8: SFP in_dim 768, 256 channels, head 256; top-1000 → NMS 0.9 → 256
///   proposals; RoI fc 1024×2, threshold 0.05, NMS 0.5, K = 100), L = 40.</item>
/// <item><c>pixelllm-tiny</c>, <c>pixelllm-bert-tiny</c>, <c>pixelllm-tiny-densecap</c>: exactly the golden
///   <c>tiny_t5</c> / <c>tiny_git</c> / <c>tiny_densecap</c> configs, so those goldens' weights fit them.</item>
/// </list>
/// </summary>
public static class PixelLlmConfigs
{
    private const string ResourcePrefix = "PixelLLM.Models.Configs.";

    /// <summary>Every named configuration.</summary>
    public static IReadOnlyList<string> Names { get; } = ["pixelllm-t5xl", "pixelllm-t5xl-densecap", "pixelllm-bert", "pixelllm-tiny", "pixelllm-bert-tiny", "pixelllm-tiny-densecap"];

    /// <summary>A fresh copy of the scenic-style "model" object of <paramref name="name"/> (callers may edit it).</summary>
    public static JsonObject Json(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Names.Contains(name, StringComparer.Ordinal))
            throw new ModelFileException($"unknown PixelLLM config '{name}' (known: {string.Join(", ", Names)})");
        using var stream = typeof(PixelLlmConfigs).Assembly.GetManifestResourceStream(ResourcePrefix + name + ".json")
            ?? throw new InvalidOperationException($"embedded config '{name}' is missing from the assembly");
        return JsonNode.Parse(stream)?.AsObject() ?? throw new InvalidOperationException($"embedded config '{name}' is not a JSON object");
    }

    /// <summary>The parsed configuration of <paramref name="name"/>.</summary>
    public static PixelLlmConfig Get(string name)
    {
        var json = Json(name);
        using var document = JsonDocument.Parse(json.ToJsonString());
        return PixelLlmConfigJson.FromScenic(document.RootElement);
    }
}
