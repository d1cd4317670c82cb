using PixelLLM.Runtime;

namespace PixelLLM.Models.Checkpoints;

/// <summary>
/// Every parameter a <see cref="PixelLlm"/> reads, under the ENGINE's names and PyTorch layouts: the scenic checklist
/// (<see cref="ScenicParameterShapes"/>) pushed through the one name map (<see cref="ScenicNameMap"/>) with each layout's
/// shape change. What a weight source must hold to build the model without a checkpoint (random weights for benchmarks).
/// </summary>
public static class EngineParameterShapes
{
    /// <summary>
    /// Engine name → shape. LoRA factors are left out (a merged model has none); the config must state the stored
    /// pos-embed grids (<see cref="PixelLlmConfig.EvaTableGrid"/>, <see cref="PixelLlmConfig.SamTableGrid"/>).
    /// </summary>
    public static IReadOnlyDictionary<string, int[]> For(PixelLlmConfig config)
    {
        var scenic = ScenicParameterShapes.For(config);
        var result = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var (path, shape) in scenic)
        {
            if (ScenicNameMap.IsKnownUnused(path) || ScenicNameMap.IsLoraFactor(path)) continue;
            if (shape.Any(d => d < 0))
                throw new ModelFileException($"engine shapes: scenic '{path}' has no size in this config ([{string.Join(", ", shape)}]); state the table grids");
            var mapping = ScenicNameMap.Map(path, _ => false)
                ?? throw new ModelFileException($"engine shapes: no engine name for scenic '{path}'");
            result.Add(mapping.EngineName, Transformed(mapping.Layout, shape));
        }
        return result;
    }

    private static int[] Transformed(ScenicLayout layout, int[] s) => layout switch
    {
        ScenicLayout.AsIs => s,
        ScenicLayout.DenseKernel or ScenicLayout.RelativeEmbedding or ScenicLayout.LoraDenseKernel => [s[1], s[0]],
        ScenicLayout.ConvKernel => [s[3], s[2], s[0], s[1]],
        _ => throw new ArgumentOutOfRangeException(nameof(layout), layout, "unknown layout"),
    };
}
