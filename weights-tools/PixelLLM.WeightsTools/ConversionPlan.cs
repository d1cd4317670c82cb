using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.WeightsTools;

/// <summary>
/// What a converter hands to <see cref="Models.ModelFiles.ModelDirectory.Write(string, Models.ModelFiles.ModelDirectoryManifest, IReadOnlyList{PlannedTensor}, string, Action{PlannedTensor})"/>:
/// the engine tensors in write order (each produced when written), what to do once one is written (release its source
/// pages), and notes for the user (source tensors skipped, tables resized).
/// </summary>
public sealed record ConversionPlan(IReadOnlyList<PlannedTensor> Tensors, Action<PlannedTensor> Written, IReadOnlyList<string> Notes)
{
    /// <summary>Plans concatenated in order (e.g. assembled from several checkpoints); a name may come from one plan only.</summary>
    public static ConversionPlan Concat(params ConversionPlan[] plans)
    {
        var owner = new Dictionary<string, ConversionPlan>(StringComparer.Ordinal);
        foreach (var plan in plans)
            foreach (var tensor in plan.Tensors)
                if (!owner.TryAdd(tensor.Name, plan))
                    throw new Runtime.ModelFileException($"tensor '{tensor.Name}' would come from two inputs");
        return new ConversionPlan([.. plans.SelectMany(p => p.Tensors)], t => owner[t.Name].Written(t), [.. plans.SelectMany(p => p.Notes)]);
    }
}
