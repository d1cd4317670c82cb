using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests.GoldenTests;

public class SamPromptEncoderGoldenTests
{
    private const string Component = "sam_prompt_encoder";

    public static TheoryData<string> Cases => GoldenCaseAssert.Cases(Component);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesReference(string caseName) => GoldenCaseAssert.Passes(Component, caseName);

    private static readonly PromptEncoderConfig Config = new(EmbedDim: 8, EmbeddingHeight: 3, EmbeddingWidth: 5, InputHeight: 24, InputWidth: 40, MaskInChans: 4);

    [Fact]
    public void MaskOfTheWrongSizeIsRejected()
    {
        var g = new Graph();
        var p = new ParamScope(g, new DictionaryWeights(new Dictionary<string, HostTensor>()));
        var mask = g.Input("mask", DType.F32, 2, 12, 21, 1);   // 4·He × 4·We would be 12 × 20
        Assert.Throws<GraphBuildException>(() => PromptEncoder.MaskEmbeddings(p, Config, mask));
    }

    [Fact]
    public void SparseFeaturesOfTheWrongWidthAreRejected()
    {
        var g = new Graph();
        var p = new ParamScope(g, new DictionaryWeights(new Dictionary<string, HostTensor>()));
        Assert.Throws<GraphBuildException>(() =>
            PromptEncoder.SparseEmbeddings(p, Config, g.Input("f", DType.F32, 2, 3, 6), g.Input("s", DType.I32, 2, 3)));
    }
}
