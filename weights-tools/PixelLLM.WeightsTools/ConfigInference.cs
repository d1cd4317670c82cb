using PixelLLM.Models.Checkpoints;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.WeightsTools;

/// <summary>Picks the model config of a scenic checkpoint when none is given: the one named config whose parameters it holds exactly.</summary>
public static class ConfigInference
{
    /// <summary>
    /// The named config (<see cref="ModelConfigSource.NamedConfigNames"/>) whose scenic parameter list the checkpoint fits;
    /// throws <see cref="InvalidInputException"/> asking for --config when none or several fit.
    /// </summary>
    public static ModelConfigSource ForScenic(IWeightSource scenic, string path)
    {
        var fits = new List<ModelConfigSource>();
        foreach (var name in ModelConfigSource.NamedConfigNames())
        {
            // A config this build cannot describe as scenic parameters (another variant) simply does not fit.
            try
            {
                var candidate = ModelConfigSource.Resolve(name);
                var weights = new ScenicWeights(scenic, new ScenicWeightsOptions(candidate.Config.LoraScale));
                weights.Validate(ScenicParameterShapes.For(candidate.Config));
                fits.Add(candidate);
            }
            catch (Exception e) when (e is ModelFileException or InvalidOperationException or ArgumentException or KeyNotFoundException) { }
        }
        return fits.Count == 1 ? fits[0]
            : throw new InvalidInputException(fits.Count == 0
                ? $"{path}: no named config fits this checkpoint; pass --config FILE.json (a scenic-style model config)"
                : $"{path}: several named configs fit ({string.Join(", ", fits.Select(f => f.Name))}); pass --config");
    }
}
