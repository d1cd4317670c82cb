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
/// timm Eva options beyond the dev goldens' (LayerScale, post-norm blocks, no_embed_class, no absolute positions,
/// register tokens, a missing cls token, pre-transformer norm), each pinned by an identity it must satisfy exactly on a
/// dev case's weights; options the encoder does not run fail with their name. (Checked against timm itself, outside
/// the repository, on twelve generated cases: all within 1e-4.)
/// </summary>
public class Eva02TimmOptionTests
{
    private const string CaseName = "cfgA_mim_avgpool";

    [Fact]
    public void LayerScaleOfOnesGivesTheBlockWithoutIt()
    {
        using var golden = Open();
        var weights = Weights(golden);
        var plain = Run(Config(golden), weights, golden);
        AddGammas(golden, weights, 1f);
        var cfg = Config(golden, ("init_values", 1.0));
        Assert.True(cfg.LayerScale);
        Assert.Equal(plain, Run(cfg, weights, golden));
    }

    [Fact]
    public void LayerScaleOfZerosMakesEveryBlockTheIdentity()
    {
        using var golden = Open();
        var weights = Weights(golden);
        AddGammas(golden, weights, 0f);
        var cfg = Config(golden, ("init_values", 1e-5));
        Assert.Equal(Run(cfg with { Depth = 0 }, weights, golden), Run(cfg, weights, golden));
    }

    [Fact]
    public void PostNormBlocksAddTheirNormalisedBranches()
    {
        using var golden = Open();
        var weights = Weights(golden);
        var cfg = Config(golden, ("use_post_norm", true), ("init_values", 0.5)); // timm ignores LayerScale in post-norm blocks
        Assert.True(cfg.PostNorm);
        Assert.False(cfg.LayerScale);
        Assert.NotEqual(Run(Config(golden), weights, golden), Run(cfg, weights, golden));
        // With zero norms after the branches, x + norm(branch) = x: every block is the identity.
        for (int b = 0; b < cfg.Depth; b++)
            foreach (var name in new[] { "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias" })
                weights[$"blocks.{b}.{name}"] = Filled(weights[$"blocks.{b}.{name}"].Shape, 0f);
        Assert.Equal(Run(cfg with { Depth = 0 }, weights, golden), Run(cfg, weights, golden));
    }

    [Fact]
    public void NoEmbedClassIsAZeroClsRowOfTheTable()
    {
        using var golden = Open();
        var weights = Weights(golden);
        var table = weights["pos_embed"];
        int c = table.Shape[2], rows = table.Shape[1];
        var patchRows = table.ToFloatArray()[c..];
        weights["pos_embed"] = HostTensor.FromArray([.. new float[c], .. patchRows], 1, rows, c);
        var withZeroRow = Run(Config(golden), weights, golden);
        weights["pos_embed"] = HostTensor.FromArray(patchRows, 1, rows - 1, c);
        Assert.Equal(withZeroRow, Run(Config(golden, ("no_embed_class", true)), weights, golden));
    }

    [Fact]
    public void WithoutAbsolutePositionsTheTableIsZero()
    {
        using var golden = Open();
        var weights = Weights(golden);
        weights["pos_embed"] = Filled(weights["pos_embed"].Shape, 0f);
        var withZeros = Run(Config(golden), weights, golden);
        weights.Remove("pos_embed");
        Assert.Equal(withZeros, Run(Config(golden, ("use_abs_pos_emb", false)), weights, golden));
    }

    [Fact]
    public void ARegisterTokenInPlaceOfClsIsTheSameSequence()
    {
        using var golden = Open();
        var weights = Weights(golden);
        var withCls = Run(Config(golden), weights, golden);
        weights["reg_token"] = weights["cls_token"];
        weights.Remove("cls_token");
        var cfg = Config(golden, ("class_token", false), ("num_reg_tokens", 1));
        Assert.Equal((1, 1), (cfg.PrefixTokens, cfg.RegisterTokens));
        Assert.Equal(withCls, Run(cfg, weights, golden));
    }

    [Fact]
    public void RegistersLengthenThePrefixAndWithoutClsThereIsNone()
    {
        using var golden = Open();
        var weights = Weights(golden);
        var image = golden.Input("in.image");
        int batch = image.Shape[0], tokens = golden.Input("out.features").Shape[1] - 1, c = weights["cls_token"].Shape[2];
        weights["reg_token"] = Filled(new Shape(1, 2, c), 0.25f);
        var registers = Config(golden, ("num_reg_tokens", 2), ("no_embed_class", true));
        var table = weights["pos_embed"];
        weights["pos_embed"] = HostTensor.FromArray(table.ToFloatArray()[c..], 1, table.Shape[1] - 1, c);
        Assert.Equal(batch * (3 + tokens) * c, Run(registers, weights, golden).Length);
        weights.Remove("cls_token");
        weights.Remove("reg_token");
        Assert.Equal(batch * tokens * c, Run(Config(golden, ("class_token", false), ("no_embed_class", true)), weights, golden).Length);
    }

    [Fact]
    public void PreTransformerNormNeedsItsWeights()
    {
        using var golden = Open();
        var cfg = Config(golden, ("use_pre_transformer_norm", true));
        Assert.True(cfg.PreNorm);
        var e = Assert.ThrowsAny<Exception>(() => Run(cfg, Weights(golden), golden));
        Assert.Contains("norm_pre.weight", e.Message);
    }

    [Theory]
    [InlineData("attn_type", "\"rope\"")]
    [InlineData("rope_grid_indexing", "\"xy\"")]
    [InlineData("swiglu_align_to", "8")]
    [InlineData("rope_rotate_half", "true")]
    [InlineData("dynamic_img_pad", "true")]
    public void OptionsItDoesNotRunAreNamed(string key, string json)
    {
        using var golden = Open();
        var e = Assert.Throws<InvalidInputException>(() => Eva02Runner.ConfigFrom(With(golden.Config, (key, JsonDocument.Parse(json).RootElement))));
        Assert.Contains(key, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    private static GoldenCase Open() => GoldenCase.Open(Path.Combine(PixelLLM.Tests.Support.Golden.Root, "eva02", CaseName));

    private static Dictionary<string, HostTensor> Weights(GoldenCase golden) => golden.Weights.Names.ToDictionary(n => n, golden.Weights.Get);

    private static void AddGammas(GoldenCase golden, Dictionary<string, HostTensor> weights, float value)
    {
        int depth = golden.Config.GetProperty("depth").GetInt32(), c = weights["cls_token"].Shape[2];
        for (int b = 0; b < depth; b++)
        {
            weights[$"blocks.{b}.gamma_1"] = Filled(new Shape(c), value);
            weights[$"blocks.{b}.gamma_2"] = Filled(new Shape(c), value);
        }
    }

    private static HostTensor Filled(Shape shape, float value) =>
        HostTensor.FromArray(Enumerable.Repeat(value, checked((int)shape.ElementCount)).ToArray(), shape.ToArray());

    private static Eva02Config Config(GoldenCase golden, params (string Key, object Value)[] settings) =>
        Eva02Runner.ConfigFrom(With(golden.Config, settings.Select(s => (s.Key, JsonSerializer.SerializeToElement(s.Value))).ToArray()));

    private static JsonElement With(JsonElement config, params (string Key, JsonElement Value)[] settings)
    {
        var map = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(config.GetRawText())!;
        foreach (var (key, value) in settings) map[key] = value;
        return JsonSerializer.SerializeToElement(map);
    }

    private static float[] Run(Eva02Config cfg, Dictionary<string, HostTensor> weights, GoldenCase golden)
    {
        var image = golden.Input("in.image");
        var g = new Graph();
        var input = g.Input("image", DType.F32, image.Shape.ToArray());
        g.Output("features", Eva02Encoder.Build(new ParamScope(g, new DictionaryWeights(weights)), cfg, g.Permute(input, 0, 2, 3, 1)).Features);
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("image", image);
        exec.Run();
        return exec.Fetch("features").ToFloatArray();
    }
}
