using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests.Models;

/// <summary>The named configs: they parse, their parameter lists build, the tiny ones are exactly the goldens' models.</summary>
public class PixelLlmConfigsTests(ITestOutputHelper log)
{
    public static TheoryData<string> Names => new(PixelLlmConfigs.Names);

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryNamedConfigParsesAndListsItsParameters(string name)
    {
        var config = PixelLlmConfigs.Get(name);
        var shapes = ScenicParameterShapes.For(config);
        Assert.NotEmpty(shapes);
        Assert.All(shapes, s => Assert.True(s.Value.All(d => d > 0), $"{s.Key} has an unstated size ({string.Join(", ", s.Value)})"));
        var expectedKind = name.Contains("bert", StringComparison.Ordinal) ? LanguageModelKind.Git : LanguageModelKind.T5;
        Assert.Equal(expectedKind, config.LanguageModel.Kind);
        Assert.Equal(shapes.ContainsKey("textual/output/kernel"), expectedKind == LanguageModelKind.Git);
        log.WriteLine($"{name}: {Count(shapes):N0} parameters in {shapes.Count} tensors");
    }

    [Fact]
    public void T5XlHasThePaperSizes()
    {
        var c = PixelLlmConfigs.Get("pixelllm-t5xl");
        Assert.Equal((384, 1024, 24, 16, 14, 2730), (c.Canvas, c.Eva.EmbedDim, c.Eva.Depth, c.Eva.NumHeads, c.Eva.PatchSize, (int)(c.Eva.EmbedDim * c.Eva.MlpRatio)));
        Assert.Equal((1280, 32, 16, 14, 256, 1024), (c.Sam.EmbedDim, c.Sam.Depth, c.Sam.NumHeads, c.Sam.WindowSize, c.Sam.OutChans, c.Sam.PretrainImageSize));
        Assert.Equal([7, 15, 23, 31], c.Sam.GlobalAttnIndexes);
        Assert.Equal(new T5Config(32128, 2048, 64, 5120, 32, 24, 24), c.T5);
        Assert.Equal((32, 2f), (c.LoraRank, c.LoraScale));
        Assert.Equal(new PromptAdapterConfig(6, 512, 256, 32, 1024), c.Adapter);
        Assert.Equal(new PointHeadConfig(4, 512, 2, 1, true), c.PointHead);
        Assert.Equal((0, 1, 0, 128, 27), (c.BeginTokenId, c.EndTokenId, c.PadTokenId, c.MaxCaptionLength, c.FusedGrid));

        // Spec §1/§9: ≈ 3.85 B parameters (EVA02-L 0.30 B, SAM ViT-H 0.63 B, Flan-T5-XL 2.85 B + LoRA 18.9 M, adapter 0.04 B).
        long count = Count(ScenicParameterShapes.For(c));
        log.WriteLine($"pixelllm-t5xl: {count:N0} parameters");
        Assert.InRange(count, 3_750_000_000L, 3_950_000_000L);
    }

    [Fact]
    public void BertHasThePaperSizes()
    {
        var c = PixelLlmConfigs.Get("pixelllm-bert");
        Assert.Equal(new GitDecoderConfig(30522, 768, 12, 6, 1024), c.Git);
        Assert.Equal((101, 102, 0, 100), (c.BeginTokenId, c.EndTokenId, c.PadTokenId, c.UnkTokenId));
        Assert.Equal([0, 100, 101, 103], c.SpecialNonEosIds);
        Assert.Throws<InvalidOperationException>(() => c.T5);
        Assert.Contains("Git", c.ToString());                                  // printing does not trip over the missing T5
        // Spec §9: ≈ 1.07 B parameters for the BERT model.
        long count = Count(ScenicParameterShapes.For(c));
        log.WriteLine($"pixelllm-bert: {count:N0} parameters");
        Assert.InRange(count, 1_000_000_000L, 1_150_000_000L);
    }

    [Theory]
    [InlineData("pixelllm-tiny", "pixelllm", "tiny_t5.weights.safetensors")]
    [InlineData("pixelllm-bert-tiny", "pixelllm_git", "tiny_git.weights.safetensors")]
    public void TinyConfigsAreTheGoldenModels(string name, string set, string weightsFile)
    {
        var dir = Path.Combine(Golden.Root, set);
        using var golden = GoldenCase.Open(Path.Combine(dir, "caption_trace"));
        var goldenConfig = JsonNode.Parse(golden.Config.GetRawText());
        Assert.True(JsonNode.DeepEquals(goldenConfig, PixelLlmConfigs.Json(name)), $"{name} differs from {set}'s config");
        // The golden weights fit the named config exactly (validated before anything is built).
        using var file = PixelLLM.Runtime.SafeTensors.SafeTensorsFile.Open(Path.Combine(dir, weightsFile));
        using var backend = new PixelLLM.Backends.Cpu.CpuBackend();
        using var model = PixelLlm.FromScenic(PixelLlmConfigs.Get(name), new SafeTensorsWeights(file), backend);
        Assert.Equal(golden.Config.GetProperty("sam").GetProperty("img_size").GetInt32(), model.Config.Sam.PretrainImageSize);
    }

    [Fact]
    public void JsonIsAFreshCopyAndUnknownNamesAreListed()
    {
        var first = PixelLlmConfigs.Json("pixelllm-tiny");
        first["canvas"] = 7;
        Assert.Equal(120, PixelLlmConfigs.Json("pixelllm-tiny")["canvas"]!.GetValue<int>());
        var e = Assert.Throws<ModelFileException>(() => PixelLlmConfigs.Get("pixelllm-t5xxl"));
        foreach (var name in PixelLlmConfigs.Names) Assert.Contains(name, e.Message);
        Assert.Contains("pixelllm-t5xxl", e.Message);
    }

    [Fact]
    public void GitConfigErrorsNameTheField()
    {
        var json = PixelLlmConfigs.Json("pixelllm-bert-tiny");
        json["visual_project_layers_name"] = "linear";
        Assert.Contains("visual_project_layers_name", Assert.Throws<ModelFileException>(() => Parse(json)).Message);
        json = PixelLlmConfigs.Json("pixelllm-bert-tiny");
        json.Remove("git_text");
        Assert.Contains("git_text", Assert.Throws<ModelFileException>(() => Parse(json)).Message);
        json = PixelLlmConfigs.Json("pixelllm-bert-tiny");
        json["git_text"]!["num_heads"] = 5;
        Assert.Contains("git_text", Assert.Throws<ModelFileException>(() => Parse(json)).Message);
        json = PixelLlmConfigs.Json("pixelllm-bert-tiny");
        json["vocab_size"] = 112;
        Assert.Contains("vocab_size", Assert.Throws<ModelFileException>(() => Parse(json)).Message);
    }

    [Fact]
    public void SamTableSizeDefaultsToSamsOwn()
    {
        var json = PixelLlmConfigs.Json("pixelllm-tiny");
        json["sam"]!.AsObject().Remove("img_size");
        var config = Parse(json);
        Assert.Equal(1024, config.Sam.PretrainImageSize);
        Assert.Null(config.SamTableGrid);
        Assert.Equal(160, PixelLlmConfigs.Get("pixelllm-tiny").Sam.PretrainImageSize);
    }

    private static PixelLlmConfig Parse(JsonObject json)
    {
        using var document = JsonDocument.Parse(json.ToJsonString());
        return PixelLlmConfigJson.FromScenic(document.RootElement);
    }

    private static long Count(IReadOnlyDictionary<string, int[]> shapes) =>
        shapes.Values.Sum(s => s.Aggregate(1L, (a, d) => a * d));
}
