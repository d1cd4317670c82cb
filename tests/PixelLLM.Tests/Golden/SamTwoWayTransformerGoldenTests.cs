using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.GoldenTests;

public class SamTwoWayTransformerGoldenTests
{
    private const string Component = "sam_two_way_transformer";

    public static TheoryData<string> Cases => GoldenCaseAssert.Cases(Component);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(string caseName) => GoldenCaseAssert.Passes(Component, caseName);

    [Fact]
    public void MismatchedWidthsAreRejected()
    {
        var cfg = new TwoWayTransformerConfig(Depth: 1, EmbeddingDim: 12, NumHeads: 2, MlpDim: 20);
        var g = new Graph();
        var p = new ParamScope(g, new DictionaryWeights(new Dictionary<string, HostTensor>()));
        var points = g.Input("points", DType.F32, 2, 3, 12);
        Assert.Throws<GraphBuildException>(() => TwoWayTransformer.Build(p, cfg, points, g.Input("image", DType.F32, 2, 35, 10), null));
        Assert.Throws<GraphBuildException>(() => TwoWayTransformer.Build(p, cfg, points, g.Input("image2", DType.F32, 3, 35, 12), null));
        Assert.Throws<GraphBuildException>(() =>
            TwoWayTransformer.Build(p, cfg, points, g.Input("image3", DType.F32, 2, 35, 12), g.Input("pe", DType.F32, 1, 34, 12)));
    }
}
