using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.Models;

/// <summary>A randomly initialised GIT decoder under engine names (odd sizes, so no shape is a power of two by luck).</summary>
internal static class GitTestModel
{
    public static GitDecoderConfig Config { get; } = new(VocabSize: 37, Hidden: 20, NumHeads: 4, NumLayers: 3, PositionTable: 13);

    public const int VisualDim = 11;

    public static IWeightSource Weights(GitDecoderConfig c, int visualDim, int seed)
    {
        var rng = new Random(seed);
        var tensors = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        foreach (var name in ScenicGitNames.EngineNames(c.NumLayers))
        {
            var shape = ShapeOf(name, c, visualDim);
            var values = new float[shape.Aggregate(1, (a, b) => a * b)];
            bool isNormScale = name.EndsWith("norm.weight", StringComparison.Ordinal);
            // Fan-in scaling keeps activations O(1); norm scales near 1 like trained LayerNorms.
            double scale = shape.Length == 2 && !name.Contains("embedding", StringComparison.Ordinal) ? 1.0 / Math.Sqrt(shape[1]) : isNormScale ? 0.1 : 0.5;
            for (int i = 0; i < values.Length; i++) values[i] = (float)((isNormScale ? 1 : 0) + scale * NextGaussian(rng));
            tensors[name] = HostTensor.FromArray(values, shape);
        }
        return new DictionaryWeights(tensors, "random GIT decoder");
    }

    private static int[] ShapeOf(string name, GitDecoderConfig c, int visualDim)
    {
        int d = c.Hidden, ff = c.IntermediateSize;
        var module = name[(ScenicGitNames.EnginePrefix.Length + 1)..name.LastIndexOf('.')];
        bool weight = name.EndsWith(".weight", StringComparison.Ordinal);
        if (module.StartsWith("layers.", StringComparison.Ordinal)) module = module[(module.IndexOf('.', 7) + 1)..];
        return module switch
        {
            "visual_projection" => weight ? [d, visualDim] : [d],
            "embedding.words" => [c.VocabSize, d],
            "embedding.positions" => [c.PositionTable, d],
            "intermediate" => weight ? [ff, d] : [ff],
            "output" when name.Contains(".layers.", StringComparison.Ordinal) => weight ? [d, ff] : [d],
            "output" => weight ? [c.VocabSize, d] : [c.VocabSize],
            "attention.query" or "attention.key" or "attention.value" or "attention.output" => weight ? [d, d] : [d],
            _ => [d],                                                   // every LayerNorm
        };
    }

    private static double NextGaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
