using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// timm's other EvaBlock forms, from the dev goldens' own weights: the fused attn.qkv (with q_bias / v_bias) repacked from a
/// case's q/k/v projections gives that case's reference outputs, and the packed GluMlp gives exactly what the split SwiGLU
/// gives on the same weights; the timm config keys select each form; without pooling the head runs on every token.
/// </summary>
public class Eva02VariantTests
{
    private static string CasePath(string name) => Path.Combine(PixelLLM.Tests.Support.Golden.Root, "eva02", name);

    [Theory]
    [InlineData("cfgA_mim_avgpool")]
    [InlineData("cfgB_clip_token_nonsquare")]
    public void FusedQkvWeightsGiveTheReferenceOutputs(string name)
    {
        using var golden = GoldenCase.Open(CasePath(name));
        var weights = golden.Weights.Names.ToDictionary(n => n, golden.Weights.Get);
        int depth = golden.Config.GetProperty("depth").GetInt32();
        for (int b = 0; b < depth; b++)
        {
            string a = $"blocks.{b}.attn.";
            weights[a + "qkv.weight"] = Concat(weights[a + "q_proj.weight"], weights[a + "k_proj.weight"], weights[a + "v_proj.weight"]);
            weights[a + "q_bias"] = weights[a + "q_proj.bias"];
            weights[a + "v_bias"] = weights[a + "v_proj.bias"];
            foreach (var p in new[] { "q_proj.weight", "k_proj.weight", "v_proj.weight", "q_proj.bias", "v_proj.bias" }) weights.Remove(a + p);
        }
        var cfg = Eva02Runner.ConfigFrom(WithKey(golden.Config, "qkv_fused", true));
        Assert.True(cfg.QkvFused);

        var features = Run(cfg, new DictionaryWeights(weights), golden.Input("in.image"));
        var expected = golden.Input("out.features").ToFloatArray();
        Assert.Equal(expected.Length, features.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(features[i] - expected[i]) <= 1e-4 + 1e-4 * Math.Abs(expected[i]), $"out.features[{i}] {features[i]} vs {expected[i]}");
    }

    [Fact]
    public void PackedGluMlpEqualsTheSplitSwiGlu()
    {
        using var golden = GoldenCase.Open(CasePath("cfgA_mim_avgpool"));
        var split = golden.Weights.Names.ToDictionary(n => n, golden.Weights.Get);
        var packed = new Dictionary<string, HostTensor>(split);
        int depth = golden.Config.GetProperty("depth").GetInt32();
        for (int b = 0; b < depth; b++)
        {
            string m = $"blocks.{b}.mlp.";
            packed[m + "fc1.weight"] = Concat(split[m + "fc1_g.weight"], split[m + "fc1_x.weight"]);
            packed[m + "fc1.bias"] = Concat(split[m + "fc1_g.bias"], split[m + "fc1_x.bias"]);
            foreach (var p in new[] { "fc1_g.weight", "fc1_x.weight", "fc1_g.bias", "fc1_x.bias", "norm.weight", "norm.bias" }) packed.Remove(m + p);
        }
        var cfg = Eva02Runner.ConfigFrom(WithKey(golden.Config, "scale_mlp", false));
        Assert.Equal(Eva02Mlp.SwiGluPacked, cfg.Mlp); // timm: SwiGLU without its norm is the packed GluMlp
        var image = golden.Input("in.image");

        var fromPacked = Run(cfg, new DictionaryWeights(packed), image);
        var fromSplit = Run(cfg with { Mlp = Eva02Mlp.SwiGlu }, new DictionaryWeights(split), image);
        Assert.Equal(fromSplit, fromPacked);
    }

    /// <summary>
    /// timm's global_pool '': no pooling, the head on every token. From the token-pooled case: the features are the
    /// reference's, and the head's row for the cls token is the reference's logits.
    /// </summary>
    [Fact]
    public void WithoutPoolingTheHeadRunsOnEveryToken()
    {
        using var golden = GoldenCase.Open(CasePath("cfgB_clip_token_nonsquare"));
        var cfg = Eva02Runner.ConfigFrom(WithString(golden.Config, "global_pool", ""));
        Assert.Equal(Eva02Pool.None, cfg.Pool);
        var image = golden.Input("in.image");
        var g = new Graph();
        var input = g.Input("image", DType.F32, image.Shape.ToArray());
        var outputs = Eva02Encoder.Build(new ParamScope(g, golden.Weights), cfg, g.Permute(input, 0, 2, 3, 1));
        Assert.Same(outputs.Features, outputs.PreLogits);
        g.Output("logits", outputs.Logits!);
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("image", image);
        exec.Run();
        var logits = exec.Fetch("logits");
        var expected = golden.Input("out.logits");
        int batch = expected.Shape[0], classes = expected.Shape[1], tokens = logits.Shape[1];
        Assert.Equal(new Shape(batch, tokens, classes), logits.Shape);
        var (ours, reference) = (logits.ToFloatArray(), expected.ToFloatArray());
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < classes; k++)
                Assert.True(Math.Abs(ours[b * tokens * classes + k] - reference[b * classes + k]) <= 1e-4 + 1e-4 * Math.Abs(reference[b * classes + k]));
    }

    /// <summary>timm's 'max' and 'avgmax' pools over the token-pooled case's features (the same final norm, no fc_norm).</summary>
    [Theory]
    [InlineData("max")]
    [InlineData("avgmax")]
    public void MaxPoolsReduceTheReferenceFeatures(string pool)
    {
        using var golden = GoldenCase.Open(CasePath("cfgB_clip_token_nonsquare"));
        var cfg = Eva02Runner.ConfigFrom(WithString(golden.Config, "global_pool", pool)) with { NumClasses = 0 };
        var image = golden.Input("in.image");
        var g = new Graph();
        var input = g.Input("image", DType.F32, image.Shape.ToArray());
        g.Output("pooled", Eva02Encoder.Build(new ParamScope(g, golden.Weights), cfg, g.Permute(input, 0, 2, 3, 1)).PreLogits!);
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("image", image);
        exec.Run();
        var pooled = exec.Fetch("pooled").ToFloatArray();

        var features = golden.Input("out.features");
        int batch = features.Shape[0], tokens = features.Shape[1], width = features.Shape[2];
        var f = features.ToFloatArray();
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < width; c++)
            {
                var column = Enumerable.Range(1, tokens - 1).Select(t => (double)f[(b * tokens + t) * width + c]).ToArray();
                double expected = pool == "max" ? column.Max() : 0.5 * (column.Max() + column.Average());
                Assert.True(Math.Abs(pooled[b * width + c] - expected) <= 1e-4 + 1e-4 * Math.Abs(expected), $"{pool} [{b}, {c}]: {pooled[b * width + c]} vs {expected}");
            }
    }

    [Theory]
    [InlineData(true, true, Eva02Mlp.SwiGlu)]
    [InlineData(true, false, Eva02Mlp.SwiGluPacked)]
    [InlineData(false, true, Eva02Mlp.Gelu)]
    [InlineData(false, false, Eva02Mlp.Gelu)]
    public void TimmKeysChooseTheMlp(bool swiGlu, bool scaleMlp, Eva02Mlp expected)
    {
        using var golden = GoldenCase.Open(CasePath("cfgA_mim_avgpool"));
        var cfg = Eva02Runner.ConfigFrom(WithKey(WithKey(golden.Config, "swiglu_mlp", swiGlu), "scale_mlp", scaleMlp));
        Assert.Equal((expected, scaleMlp), (cfg.Mlp, cfg.ScaleMlp));
    }

    [Fact]
    public void APackedFc1OfTheWrongShapeIsNamed()
    {
        using var golden = GoldenCase.Open(CasePath("cfgA_mim_avgpool"));
        var weights = golden.Weights.Names.ToDictionary(n => n, golden.Weights.Get);
        weights["blocks.0.mlp.fc1.weight"] = weights["blocks.0.mlp.fc1_g.weight"]; // one half only
        var cfg = Eva02Runner.ConfigFrom(WithKey(golden.Config, "scale_mlp", false));
        var e = Assert.Throws<ModelFileException>(() => Run(cfg, new DictionaryWeights(weights), golden.Input("in.image")));
        Assert.Contains("blocks.0.mlp.fc1.weight", e.Message);
    }

    private static float[] Run(Eva02Config cfg, IWeightSource weights, HostTensor image)
    {
        var g = new Graph();
        var input = g.Input("image", DType.F32, image.Shape.ToArray());
        g.Output("features", Eva02Encoder.Build(new ParamScope(g, weights), cfg, g.Permute(input, 0, 2, 3, 1)).Features);
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("image", image);
        exec.Run();
        return exec.Fetch("features").ToFloatArray();
    }

    private static HostTensor Concat(params HostTensor[] parts)
    {
        var values = parts.SelectMany(p => p.ToFloatArray()).ToArray();
        return HostTensor.FromArray(values, [parts.Sum(p => p.Shape[0]), .. parts[0].Shape.ToArray()[1..]]);
    }

    private static JsonElement WithKey(JsonElement config, string key, bool value) => With(config, key, JsonSerializer.SerializeToElement(value));

    private static JsonElement WithString(JsonElement config, string key, string value) => With(config, key, JsonSerializer.SerializeToElement(value));

    private static JsonElement With(JsonElement config, string key, JsonElement value)
    {
        var map = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(config.GetRawText())!;
        map[key] = value;
        return JsonSerializer.SerializeToElement(map);
    }
}
