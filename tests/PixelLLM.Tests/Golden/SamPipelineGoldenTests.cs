using PixelLLM.Models;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Tests.GoldenTests;

public class SamPipelineGoldenTests
{
    private const string Component = "sam_pipeline";

    public static TheoryData<string> Cases => GoldenCaseAssert.Cases(Component);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(string caseName) => GoldenCaseAssert.Passes(Component, caseName);

    private static readonly SamConfig Config = new(
        new SamImageEncoderConfig(EmbedDim: 16, Depth: 1, NumHeads: 2, PatchSize: 8, OutChans: 8, WindowSize: 0, GlobalAttnIndexes: []),
        ImageSize: 48,
        new PromptEncoderConfig(8, 6, 6, 48, 48, 4),
        new MaskDecoderConfig(8, new TwoWayTransformerConfig(1, 8, 2, 16)),
        SamConfig.DefaultPixelMean, SamConfig.DefaultPixelStd);

    [Fact]
    public void ImagesLargerThanTheEncoderInputOrNotRgbAreRejected()
    {
        var g = new Graph();
        Assert.Throws<InvalidInputException>(() => SamPipeline.Preprocess(g, Config, g.Input("tall", DType.F32, 49, 30, 3)));
        Assert.Throws<InvalidInputException>(() => SamPipeline.Preprocess(g, Config, g.Input("gray", DType.F32, 40, 30, 1)));
        Assert.Throws<InvalidInputException>(() => SamPipeline.Preprocess(g, Config, g.Input("chw", DType.F32, 3, 40, 30)));
    }

    [Fact]
    public void ThresholdKeepsOnlyStrictlyPositiveLogits()
    {
        var logits = HostTensor.FromArray(new[] { -1f, 0f, 1e-7f, 2f, -0f, float.NaN }, 1, 2, 3);
        var masks = SamPipeline.Threshold(logits);
        Assert.Equal(DType.U8, masks.DType);
        Assert.Equal(logits.Shape, masks.Shape);
        Assert.Equal(new byte[] { 0, 0, 1, 1, 0, 0 }, masks.AsSpan<byte>().ToArray());
    }
}
