using System.Text.Json;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>Engine-name parameter shapes derived from the config equal what the name map makes of the real tiny checkpoint.</summary>
public class EngineParameterShapesTests
{
    [Fact]
    public void MatchTheMappedTinyCheckpoint()
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Golden.Root, ScenicGolden.Component, "caption_trace.json")));
        var config = PixelLlmConfigJson.FromScenic(json.RootElement.GetProperty("config"));
        using var file = Golden.Open(ScenicGolden.Component, "tiny_t5.weights.safetensors");
        var mapped = new ScenicWeights(new SafeTensorsWeights(file), new ScenicWeightsOptions(config.LoraScale, config.LoraRank));

        var shapes = EngineParameterShapes.For(config);
        Assert.Equal(mapped.Names.Order(StringComparer.Ordinal), shapes.Keys.Order(StringComparer.Ordinal));
        foreach (var name in mapped.Names) Assert.Equal(mapped.Get(name).Shape.ToArray(), shapes[name]);
    }

    [Fact]
    public void ConfigWithoutTableGridsIsRefused()
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Golden.Root, ScenicGolden.Component, "caption_trace.json")));
        var config = PixelLlmConfigJson.FromScenic(json.RootElement.GetProperty("config")) with { SamTableGrid = null };
        var e = Assert.Throws<PixelLLM.Runtime.ModelFileException>(() => EngineParameterShapes.For(config));
        Assert.Contains("pos_embed", e.Message);
    }
}
