using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime.Weights;
using PixelLLM.WeightsTools;

namespace PixelLLM.Cli;

/// <summary>`verify --weights PATH`: a model directory's weights (engine names) or any checkpoint file the converters read.</summary>
internal sealed class WeightsOverride : IDisposable
{
    private readonly IDisposable owner;

    private WeightsOverride(IWeightSource weights, IDisposable owner) { Weights = weights; this.owner = owner; }

    public IWeightSource Weights { get; }

    public static WeightsOverride Open(string path)
    {
        if (ModelDirectory.IsModelDirectory(path))
        {
            var model = ModelDirectory.Open(path);
            return new WeightsOverride(model.Weights, model);
        }
        var checkpoint = CheckpointSource.Open(path);
        return new WeightsOverride(checkpoint, checkpoint);
    }

    public void Dispose() => owner.Dispose();
}
