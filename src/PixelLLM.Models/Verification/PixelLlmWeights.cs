using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.Verification;

/// <summary>
/// A case's model from whichever weights it is given: the case's own scenic-named tensors (mapped by ScenicWeights), or a
/// converted model directory's engine-named tensors (`pixelllm verify --weights DIR`), checked against the case's config.
/// </summary>
public static class PixelLlmWeights
{
    /// <summary>True when <paramref name="weights"/> uses the engine's names (a model directory) rather than scenic paths.</summary>
    public static bool AreEngineNamed(IWeightSource weights) => weights.Contains("t5.shared.weight") || weights.Contains("eva02.cls_token");

    /// <summary>The model over <paramref name="weights"/>; engine-named weights must be exactly what <paramref name="config"/> needs.</summary>
    public static PixelLlm Create(PixelLlmConfig config, IWeightSource weights, IBackend backend)
    {
        if (!AreEngineNamed(weights)) return PixelLlm.FromScenic(config, weights, backend);
        var report = TensorChecklist.Compare(EngineParameterShapes.For(config), weights.Names.Select(n => (n, weights.Get(n).Shape)));
        if (!report.Passed) throw new ModelFileException($"the given weights do not fit the case's model: {report.Summary()}");
        return new PixelLlm(config, weights, backend);
    }
}
