using PixelLLM.Models;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// The model configurations <c>pixelllm bench</c> knows by name.
/// LEAD: this is the ONE place to swap for the named configs of helper "git" (PixelLlmConfigs) once they land:
/// replace <see cref="Get"/>'s body with a call to them; nothing else in the bench builds a config.
/// </summary>
internal static class BenchConfigs
{
    public static readonly string[] Names = ["pixelllm-t5xl", "pixelllm-tiny"];

    public static PixelLlmConfig Get(string name) => name switch
    {
        "pixelllm-t5xl" => T5Xl,
        "pixelllm-tiny" => Tiny,
        _ => throw new InvalidInputException($"--config: unknown config '{name}' (expected {string.Join(" or ", Names)})"),
    };

    /// <summary>
    /// The real PixelLLM (T5 variant) from the spec's sizes: 384² canvas (§0), EVA02-L with its 16×16 pretraining table
    /// (§3.3), SAM ViT-H with its 64×64 table (§3.4), prompt encoder width 256 and the 6-block adapter to 32 tokens of 1024
    /// (§4.1–4.2), Flan-T5-XL (§5.1, LoRA merged), the 4-layer point head (§6.1); 22 decoder slots = BOS + 20 tokens + EOS.
    /// </summary>
    private static PixelLlmConfig T5Xl => new()
    {
        Canvas = 384,
        Eva = Eva02Config.PixelLlmLarge,
        EvaTableGrid = 16,
        Sam = SamImageEncoderConfig.PixelLlmVitH,
        SamTableGrid = 64,
        PromptEmbedDim = 256,
        Adapter = new PromptAdapterConfig(Depth: 6, TransformerDim: 512, InputEmbeddingDim: 256, NumOutputs: 32, OutputDim: 1024),
        T5 = new T5Config(VocabSize: 32128, DModel: 2048, DKv: 64, DFf: 5120, NumHeads: 32, NumLayers: 24, NumDecoderLayers: 24),
        PointHead = new PointHeadConfig(Depth: 4, HiddenDim: 512),
        MaxCaptionLength = 22,
    };

    /// <summary>The same structure at the golden tiny_t5 case's sizes (seconds on a CPU): for smoke tests of the bench itself.</summary>
    private static PixelLlmConfig Tiny => new()
    {
        Canvas = 120,
        Eva = Eva02Config.PixelLlm(32, 2, 2, 14),
        EvaTableGrid = 6,
        Sam = SamImageEncoderConfig.PixelLlmVitH with
        {
            EmbedDim = 32, Depth = 2, NumHeads = 2, PatchSize = 16, OutChans = 24, WindowSize = 4, GlobalAttnIndexes = [1], PretrainImageSize = 160,
        },
        SamTableGrid = 10,
        PromptEmbedDim = 24,
        Adapter = new PromptAdapterConfig(Depth: 2, TransformerDim: 32, InputEmbeddingDim: 24, NumOutputs: 4, OutputDim: 40, MlpDim: 64),
        T5 = new T5Config(VocabSize: 100, DModel: 32, DKv: 8, DFf: 48, NumHeads: 4, NumLayers: 2, NumDecoderLayers: 2),
        PointHead = new PointHeadConfig(Depth: 4, HiddenDim: 16),
        MaxCaptionLength = 12,
    };
}
