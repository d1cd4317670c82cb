using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests;

/// <summary>Seeded random weights: reproducible, order-independent, scaled by the golden init rule.</summary>
public class RandomWeightsTests
{
    private static readonly Dictionary<string, int[]> Table = new()
    {
        ["blocks.0.norm1.weight"] = [1001],
        ["blocks.0.attn.qkv.bias"] = [3003],
        ["blocks.0.mlp.lin1.weight"] = [517, 301],            // > one 64 Ki block: several generators
        ["patch_embed.proj.weight"] = [33, 3, 7, 5],          // fan_in 105
        ["pos_embed"] = [1, 13, 11, 9],
        ["cls_token"] = [1, 1, 1],                            // odd length, one element
    };

    [Fact]
    public void SameSeedSameValuesRegardlessOfOrder()
    {
        var a = new RandomWeights(Table, seed: 7);
        var b = new RandomWeights(Table.Reverse(), seed: 7);
        var c = new RandomWeights(Table, seed: 8);
        foreach (var name in Table.Keys)
        {
            Assert.Equal(a.Get(name).ToFloatArray(), b.Get(name).ToFloatArray());
            Assert.NotEqual(a.Get(name).ToFloatArray(), c.Get(name).ToFloatArray());
        }
        // Distinct names get distinct streams even with equal shapes.
        var twins = new RandomWeights(new Dictionary<string, int[]> { ["x.weight"] = [64, 64], ["y.weight"] = [64, 64] }, seed: 1);
        Assert.NotEqual(twins.Get("x.weight").ToFloatArray(), twins.Get("y.weight").ToFloatArray());
    }

    [Theory]
    [InlineData("blocks.0.norm1.weight", 1.0, 0.1)]
    [InlineData("blocks.0.attn.qkv.bias", 0.0, 0.1)]
    [InlineData("blocks.0.mlp.lin1.weight", 0.0, 0.05763904177)]   // 1/√301
    [InlineData("patch_embed.proj.weight", 0.0, 0.09759000729)]    // 1/√105
    [InlineData("pos_embed", 0.0, 0.2)]
    public void MomentsFollowTheInitRule(string name, double mean, double std)
    {
        var values = new RandomWeights(Table, seed: 11).Get(name).ToFloatArray().Select(v => (double)v).ToArray();
        double m = values.Average(), s = Math.Sqrt(values.Select(v => (v - m) * (v - m)).Average());
        // Standard error of the mean is std/√n ≤ std/30 here; of the std, ≤ ~3 % (uniform kurtosis): 5σ-ish margins.
        Assert.InRange(m, mean - 5 * std / Math.Sqrt(values.Length), mean + 5 * std / Math.Sqrt(values.Length));
        Assert.InRange(s, std * 0.9, std * 1.1);
        // Uniform on mean ± √3·std: bounded, and it fills its range.
        Assert.All(values, v => Assert.InRange(v, mean - Math.Sqrt(3) * std - 1e-6, mean + Math.Sqrt(3) * std + 1e-6));
        Assert.True(values.Max() - values.Min() > 3 * std, "values do not spread over the range");
    }

    [Fact]
    public void ActsAsAWeightSource()
    {
        var w = new RandomWeights(Table, seed: 2);
        Assert.Equal(Table.Keys.Order(), w.Names.Order());
        Assert.True(w.Contains("pos_embed"));
        Assert.False(w.Contains("pos_embed.weight"));
        Assert.Equal(new Shape(33, 3, 7, 5), w.Get("patch_embed.proj.weight").Shape);
        Assert.Equal(DType.F32, w.Get("cls_token").DType);
        Assert.Equal(4L * Table.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)), w.TotalBytes);
        Assert.Contains("nope", Assert.Throws<ModelFileException>(() => w.Get("nope")).Message);
    }

    [Fact]
    public void RejectsBadTables()
    {
        Assert.Throws<ArgumentException>(() => new RandomWeights(new Dictionary<string, int[]> { ["a"] = [] }, 0));
        Assert.Throws<ArgumentException>(() => new RandomWeights(new Dictionary<string, int[]> { ["a"] = [2, -1] }, 0));
        Assert.Throws<ArgumentException>(() => new RandomWeights([new("a", [2]), new("a", [2])], 0));
    }
}
