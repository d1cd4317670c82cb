using PixelLLM.Models.Checkpoints;

namespace PixelLLM.Tests.Models;

/// <summary>The scenic → engine direction of the GIT name map (the hook ScenicWeights uses) inverts the engine → scenic one.</summary>
public class ScenicGitNamesInverseTests
{
    [Fact]
    public void EveryEngineNameRoundTrips()
    {
        foreach (var engine in ScenicGitNames.EngineNames(3))
        {
            var (scenic, _) = ScenicGitNames.ToScenic(engine)!.Value;
            Assert.Equal(engine, ScenicGitNames.FromScenic(scenic));
            Assert.Equal(engine, ScenicWeights.EngineNameOf(scenic));
        }
    }

    [Theory]
    [InlineData("textual/t5_module/encoder/encoder_norm/scale")]
    [InlineData("textual/output/scale")]
    [InlineData("textual/embedding/words/kernel")]
    [InlineData("textual/transformer/encoder/layer.01/intermediate/dense/kernel")]
    [InlineData("textual/transformer/encoder/layer.0/attention/self/query/scale")]
    [InlineData("textual/transformer/encoder/layer.0/attention/self/gate/kernel")]
    [InlineData("prompt_adapter/output/kernel")]
    [InlineData("textual")]
    public void OtherPathsAreNotGitParameters(string path) => Assert.Null(ScenicGitNames.FromScenic(path));

    [Fact]
    public void ShapesFollowTheFlaxLayouts()
    {
        var shapes = ScenicGitNames.ScenicShapes(new PixelLLM.Models.GitDecoderConfig(VocabSize: 50, Hidden: 16, NumHeads: 2, NumLayers: 1, PositionTable: 9), visualDim: 24);
        Assert.Equal([24, 16], shapes["textual/visual_projection.0/kernel"]);
        Assert.Equal([9, 16], shapes["textual/embedding/positions/embedding"]);
        Assert.Equal([16, 16], shapes["textual/transformer/encoder/layer.0/attention/output/dense/kernel"]);
        Assert.Equal([16, 64], shapes["textual/transformer/encoder/layer.0/intermediate/dense/kernel"]);
        Assert.Equal([64, 16], shapes["textual/transformer/encoder/layer.0/output/dense/kernel"]);
        Assert.Equal([16], shapes["textual/transformer/encoder/layer.0/output/LayerNorm/scale"]);
        Assert.Equal([16, 50], shapes["textual/output/kernel"]);
        Assert.Equal([50], shapes["textual/output/bias"]);
        Assert.Equal(ScenicGitNames.EngineNames(1).Count(), shapes.Count);
    }
}
