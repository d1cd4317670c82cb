using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Support;

/// <summary>The end-to-end PixelLLM goldens (scenic-named weights) seen through the engine's name map.</summary>
internal static class ScenicGolden
{
    public const string Component = "pixelllm";
    public static readonly string[] Cases = ["caption_trace", "loca_caption", "referring"];

    /// <summary>One module of a scenic weights file under engine names, e.g. Module(file, "sam.image_encoder").</summary>
    public static IWeightSource Module(SafeTensorsFile scenic, string module) =>
        new ScopedWeights(new ScenicWeights(new SafeTensorsWeights(scenic), new ScenicWeightsOptions(LoraScale: 1f)), module);

    /// <summary>Opens a pixelllm case (its JSON names the shared tiny_t5 weights).</summary>
    public static GoldenCase Open(string caseName) => GoldenCase.Open(Path.Combine(Golden.Root, Component, caseName));
}
