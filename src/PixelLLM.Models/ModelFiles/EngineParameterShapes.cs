using PixelLLM.Models.Checkpoints;

namespace PixelLLM.Models.ModelFiles;

/// <summary>
/// Every tensor a model directory holds for a <see cref="PixelLlmConfig"/>, under the ENGINE's names and PyTorch layouts:
/// the scenic checklist (<see cref="ScenicParameterShapes"/>) pushed through the one scenic → engine name map, with LoRA
/// factors merged away, the unused scenic heads dropped, and the position tables at the sizes the canvas needs
/// (<see cref="PositionTables.ForCanvas"/>), which is how converters store them.
/// </summary>
public static class EngineParameterShapes
{
    /// <summary>Engine name → shape, in the scenic checklist's order.</summary>
    public static IReadOnlyDictionary<string, int[]> For(PixelLlmConfig config)
    {
        var scenic = ScenicParameterShapes.For(config);
        var engine = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var (path, shape) in scenic)
        {
            if (ScenicNameMap.IsKnownUnused(path, config.Adapter.DenseFuse) || ScenicNameMap.IsLoraFactor(path)) continue;
            var mapping = ScenicNameMap.Map(path, _ => false)
                ?? throw new InvalidOperationException($"scenic checklist entry '{path}' has no engine name");
            engine[mapping.EngineName] = LayoutTransforms.EngineShape(mapping.Layout, shape);
        }
        int evaGrid = config.EvaGrid, samGrid = config.SamGrid;
        engine["eva02.pos_embed"] = [1, 1 + evaGrid * evaGrid, config.Eva.EmbedDim];
        engine["sam.image_encoder.pos_embed"] = [1, samGrid, samGrid, config.Sam.EmbedDim];
        foreach (var name in PositionTables.Names(config).Where(n => n.Contains(".rel_pos_", StringComparison.Ordinal)))
            engine[name] = [2 * samGrid - 1, config.Sam.HeadDim];
        return engine;
    }
}
