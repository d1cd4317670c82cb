using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.GoldenTests;

public class SamMaskDecoderGoldenTests
{
    private const string Component = "sam_mask_decoder";

    public static TheoryData<string> Cases => GoldenCaseAssert.Cases(Component);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(string caseName) => GoldenCaseAssert.Passes(Component, caseName);

    [Fact]
    public void InconsistentPromptTensorsAreRejected()
    {
        var cfg = new MaskDecoderConfig(16, new TwoWayTransformerConfig(Depth: 1, EmbeddingDim: 16, NumHeads: 2, MlpDim: 24));
        var g = new Graph();
        var p = new ParamScope(g, new DictionaryWeights(new Dictionary<string, HostTensor>()));
        var image = g.Input("image", DType.F32, 1, 5, 7, 16);
        var pe = g.Input("pe", DType.F32, 1, 5, 7, 16);
        var dense = g.Input("dense", DType.F32, 1, 1, 1, 16);
        // Three prompts claimed, sparse tokens for two.
        Assert.Throws<GraphBuildException>(() => MaskDecoder.Build(p, cfg, image, pe, g.Input("sparse", DType.F32, 2, 4, 16), dense, 3));
        // Dense prompt on another grid.
        Assert.Throws<GraphBuildException>(() => MaskDecoder.Build(p, cfg, image, pe, null, g.Input("dense2", DType.F32, 3, 5, 6, 16), 3));
        // PE on another grid.
        Assert.Throws<GraphBuildException>(() => MaskDecoder.Build(p, cfg, image, g.Input("pe2", DType.F32, 1, 7, 5, 16), null, dense, 3));
    }
}
