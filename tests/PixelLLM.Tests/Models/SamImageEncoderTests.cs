using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// The SAM encoder paths the goldens do not reach: learnt tables stored for another grid (PixelLLM runs SAM at 384 with
/// tables for 1024) and bad inputs. A resized-in-graph encoder must equal the same encoder given tables that this test
/// resized itself in float64 from the reference definitions.
/// </summary>
public class SamImageEncoderTests
{
    [Theory]
    [InlineData(9, true)]   // pos 9→6×5 and rel-pos 17→11/9: down-sampling, jax linear with antialias (PixelLLM)
    [InlineData(9, false)]  // same sizes, torch F.interpolate linear (segment-anything)
    [InlineData(4, false)]  // pos 4→6×5 and rel-pos 7→11/9: up-sampling
    [InlineData(4, true)]
    public void StoredTablesForAnotherGrid_AreResizedLikeTheReference(int tableGrid, bool relPosAntialias)
    {
        var rng = new Random(31 + tableGrid);
        var cfg = SamEncoderTestModel.Config(relPosAntialias);
        int gridH = 6, gridW = 5; // non-square, and neither a multiple of the window (4): padded windows
        var image = SamEncoderTestModel.Rand(rng, 1f, 2, gridH * cfg.PatchSize, gridW * cfg.PatchSize, 3);
        var stored = SamEncoderTestModel.RandomWeights(rng, cfg, tableGrid, 2 * tableGrid - 1);

        var resized = new Dictionary<string, HostTensor>(stored);
        var pos = Resize(stored["pos_embed"], 1, gridH, NaiveTableResize.Jax(cubic: true, antialias: true));
        resized["pos_embed"] = Resize(pos, 2, gridW, NaiveTableResize.Jax(cubic: true, antialias: true));
        var rel = relPosAntialias ? NaiveTableResize.Jax(cubic: false, antialias: true) : NaiveTableResize.TorchLinear;
        resized["blocks.1.attn.rel_pos_h"] = Resize(stored["blocks.1.attn.rel_pos_h"], 0, 2 * gridH - 1, rel);
        resized["blocks.1.attn.rel_pos_w"] = Resize(stored["blocks.1.attn.rel_pos_w"], 0, 2 * gridW - 1, rel);

        var actual = SamEncoderTestModel.Run(cfg, stored, image);
        var expected = SamEncoderTestModel.Run(cfg, resized, image);
        foreach (var (name, values) in expected)
            OpHarness.AssertClose(values.Select(v => (double)v).ToArray(), actual[name], what: name);
        // The resize must matter, or this test would pass with the tables ignored.
        Assert.NotEqual(stored["pos_embed"].Shape, resized["pos_embed"].Shape);
    }

    [Theory]
    [InlineData(new[] { 1, 3, 24, 20 })]   // NCHW instead of NHWC
    [InlineData(new[] { 1, 24, 3, 3 })]    // narrower than one patch (4)
    [InlineData(new[] { 24, 20, 3 })]      // no batch dim
    public void BadImageShape_Throws(int[] shape)
    {
        var ex = Assert.Throws<InvalidInputException>(() => BuildWith(SamEncoderTestModel.Config(false), shape));
        Assert.Contains("image", ex.Message);
    }

    [Fact]
    public void MissingOrMisshapenWeights_ThrowModelFileException()
    {
        var cfg = SamEncoderTestModel.Config(false);
        var weights = SamEncoderTestModel.RandomWeights(new Random(5), cfg, 6, 11);
        weights.Remove("blocks.1.attn.proj.weight");
        var missing = Assert.Throws<ModelFileException>(() => BuildWith(cfg, [1, 24, 20, 3], weights));
        Assert.Contains("blocks.1.attn.proj.weight", missing.Message);

        weights = SamEncoderTestModel.RandomWeights(new Random(5), cfg, 6, 11);
        weights["blocks.0.attn.rel_pos_h"] = HostTensor.Zeros(DType.F32, 7, cfg.HeadDim + 1);
        var misshapen = Assert.Throws<ModelFileException>(() => BuildWith(cfg, [1, 24, 20, 3], weights));
        Assert.Contains("rel_pos_h", misshapen.Message);

        var badHeads = cfg with { NumHeads = 5 };
        Assert.Throws<ModelFileException>(() => BuildWith(badHeads, [1, 24, 20, 3], weights));
    }

    private static Tensor BuildWith(SamImageEncoderConfig cfg, int[] shape, Dictionary<string, HostTensor>? weights = null)
    {
        weights ??= SamEncoderTestModel.RandomWeights(new Random(1), cfg, 6, 11);
        var g = new Graph();
        return SamImageEncoder.Build(new ParamScope(g, new DictionaryWeights(weights)), cfg, g.Input("image", DType.F32, shape));
    }

    private static HostTensor Resize(HostTensor t, int axis, int size, Func<int, int, double[,]> weights)
    {
        var (data, shape) = NaiveTableResize.Axis(OpHarness.AsDoubles(t), t.Shape.ToArray(), axis, size, weights);
        return HostTensor.FromArray(data.Select(v => (float)v).ToArray(), shape);
    }
}
