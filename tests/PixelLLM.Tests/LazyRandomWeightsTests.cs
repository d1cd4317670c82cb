using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests;

/// <summary>Lazily generated random weights: the eager generator's values, made on first use, kept once, optionally bf16.</summary>
public class LazyRandomWeightsTests
{
    private static readonly Dictionary<string, int[]> Table = new()
    {
        ["blocks.0.norm1.weight"] = [1001],
        ["blocks.0.mlp.lin1.weight"] = [517, 301],            // > one 64 Ki block
        ["patch_embed.proj.weight"] = [33, 3, 7, 5],
        ["pos_embed"] = [1, 13, 11, 9],
    };

    [Fact]
    public void SameValuesAsTheEagerGeneratorGeneratedOnFirstUseOnly()
    {
        var eager = new RandomWeights(Table, seed: 11);
        var lazy = new LazyRandomWeights(Table, seed: 11);
        Assert.Equal(0, lazy.MaterialisedBytes);
        Assert.Equal(eager.TotalBytes, lazy.TotalBytes);
        var first = lazy.Get("blocks.0.mlp.lin1.weight");
        Assert.Equal(517L * 301 * 4, lazy.MaterialisedBytes);
        Assert.Same(first, lazy.Get("blocks.0.mlp.lin1.weight"));                 // kept, not regenerated
        foreach (var name in Table.Keys) Assert.Equal(eager.Get(name).ToFloatArray(), lazy.Get(name).ToFloatArray());
        Assert.Equal(eager.TotalBytes, lazy.MaterialisedBytes);
        Assert.Equal([33, 3, 7, 5], lazy.ShapeOf("patch_embed.proj.weight"));
    }

    [Fact]
    public void Bf16StorageHoldsTheRoundedValues()
    {
        var eager = new RandomWeights(Table, seed: 3);
        var lazy = new LazyRandomWeights(Table, seed: 3, (_, shape) => shape.Count == 2 ? DType.BF16 : DType.F32);
        var matrix = lazy.Get("blocks.0.mlp.lin1.weight");
        Assert.Equal(DType.BF16, matrix.DType);
        var rounded = eager.Get("blocks.0.mlp.lin1.weight").ToFloatArray().Select(v => BFloat16.ToSingle(BFloat16.FromSingle(v))).ToArray();
        Assert.Equal(rounded, matrix.ToFloatArray());
        Assert.Equal(DType.F32, lazy.Get("pos_embed").DType);
        Assert.Equal(517L * 301 * 2 + 1001 * 4 + 33 * 3 * 7 * 5 * 4 + 13 * 11 * 9 * 4, lazy.TotalBytes);
    }

    [Fact]
    public void BadNamesShapesAndStorageAreRefused()
    {
        var lazy = new LazyRandomWeights(Table, seed: 1);
        Assert.Contains("nope", Assert.Throws<ModelFileException>(() => lazy.Get("nope")).Message);
        Assert.Throws<ArgumentException>(() => new LazyRandomWeights(new Dictionary<string, int[]> { ["x"] = [] }, 1));
        Assert.Throws<ArgumentException>(() => new LazyRandomWeights(Table, seed: 1, (_, _) => DType.F16));
    }
}
