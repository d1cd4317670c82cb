using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// scenic's <c>text_decoder_feature_key</c>: which visual maps the prompt adapter reads, fused in key order (every PixelLLM
/// config uses "git_visual_features+sam_visual_features"); <c>prompt_use_box_rate</c> as scenic's inference reads it; the
/// prompt settings inference cannot honour are refused.
/// </summary>
public class FeatureKeyTests
{
    private static JsonObject CaptionConfig() => Golden.CaseConfig("pixelllm", "caption_trace");

    private static PixelLlmConfig Parse(JsonObject config) => Golden.ParseConfig(config);

    [Fact]
    public void TheKeyPicksTheMapsTheirGridAndTheirChannels()
    {
        var both = Parse(CaptionConfig());
        Assert.Equal([VisualFeature.Eva, VisualFeature.Sam], both.FeatureKeys);
        Assert.Equal((both.EvaGrid, both.Eva.EmbedDim + both.Sam.OutChans), (both.FusedGrid, both.FusedChannels));

        var config = CaptionConfig();
        config["text_decoder_feature_key"] = "sam_visual_features";
        var sam = Parse(config);
        Assert.Equal((sam.SamGrid, sam.Sam.OutChans), (sam.FusedGrid, sam.FusedChannels));
        Assert.NotEqual(sam.SamGrid, sam.EvaGrid); // the case tells the grids apart
    }

    [Theory]
    [InlineData("text_decoder_feature_key", "\"git_visual_features+clip\"", "'clip'")]
    [InlineData("text_decoder_feature_key", "\"sam_visual_features+sam_visual_features\"", "twice")]
    [InlineData("prompt_fuse_fn", "\"concat\"", "prompt_fuse_fn 'concat'")]
    [InlineData("prompt_use_box_rate", "1.5", "prompt_use_box_rate")]
    public void SettingsInferenceCannotHonourAreRefused(string key, string value, string named)
    {
        var config = CaptionConfig();
        config[key] = JsonNode.Parse(value);
        var e = Assert.Throws<ModelFileException>(() => Parse(config));
        Assert.Contains(named, e.Message);
    }

    /// <summary>
    /// prompt_fuse_fn 'dense' hands the LM one visual token per fused-map cell (the adapter's updated keys through
    /// dense_output_mlp), which the scenic weights then map instead of listing unused; 'sparse' (the default) K tokens.
    /// </summary>
    [Fact]
    public void DenseFusionHandsTheLmEveryMapCell()
    {
        var sparse = Parse(CaptionConfig());
        Assert.False(sparse.Adapter.DenseFuse);
        Assert.Equal(sparse.Adapter.NumOutputs, sparse.VisualTokens);
        var config = CaptionConfig();
        config["prompt_fuse_fn"] = "dense";
        var dense = Parse(config);
        Assert.True(dense.Adapter.DenseFuse);
        Assert.Equal(dense.FusedGrid * dense.FusedGrid, dense.VisualTokens);
        Assert.Contains("prompt_adapter.dense_output.layers.0.weight", PixelLLM.Models.ModelFiles.EngineParameterShapes.For(dense).Keys);
        Assert.DoesNotContain("prompt_adapter.dense_output.layers.0.weight", PixelLLM.Models.ModelFiles.EngineParameterShapes.For(sparse).Keys);
    }

    /// <summary>The box decoder reads the fused map too: its own key may only differ where there is no box decoder.</summary>
    [Fact]
    public void ABoxDecoderKeyMustMatchTheTextKey()
    {
        var config = CaptionConfig();
        config["box_decoder_feature_key"] = "sam_visual_features";
        Assert.Equal([VisualFeature.Eva, VisualFeature.Sam], Parse(config).FeatureKeys); // no box decoder: nothing reads it

        var densecap = Golden.CaseConfig("pixelllm_densecap", "densecap");
        densecap["box_decoder_feature_key"] = "sam_visual_features";
        var e = Assert.Throws<ModelFileException>(() => Parse(densecap));
        Assert.Contains("box_decoder_feature_key", e.Message);
        densecap["text_decoder_feature_key"] = "sam_visual_features";
        Assert.Equal([VisualFeature.Sam], Parse(densecap).FeatureKeys);
    }

    /// <summary>
    /// Inference replaces a box's point tokens by its box tokens at any rate above 0 (the rate only drops boxes in
    /// training) and never at 0, where every box takes the point path an all-zero box always takes.
    /// </summary>
    [Theory]
    [InlineData(null, true)]
    [InlineData(1.0, true)]
    [InlineData(0.3, true)]
    [InlineData(0.0, false)]
    public void ABoxRateAboveZeroMeansBoxTokens(double? rate, bool boxes)
    {
        var config = CaptionConfig();
        if (rate is null) config.Remove("prompt_use_box_rate"); else config["prompt_use_box_rate"] = rate.Value;
        Assert.Equal(boxes, Parse(config).PromptUseBoxes);
    }

    [Fact]
    public void AtRateZeroABoxTakesThePointsSampledOnIt()
    {
        var gaussian = HostTensor.FromArray(new float[] { 1, 0.3f, -0.7f, 2 }, 2, 2); // (2, E/2): any Gaussian will do
        const int canvas = 120;
        var box = HostTensor.FromArray(new float[] { 10, 20, 50, 80 }, 1, 4);
        var points = PixelLlmPrompts.Encode(box, gaussian, canvas, 2, withOffset: false, useBoxes: false);
        Assert.Equal([0], points.BoxValid.AsSpan<byte>().ToArray());
        int[] slots = [.. points.Slots.AsSpan<int>().ToArray()];
        Assert.Equal([PixelLlmPrompts.SlotForeground, PixelLlmPrompts.SlotForeground, PixelLlmPrompts.SlotForeground,
            PixelLlmPrompts.SlotForeground, PixelLlmPrompts.SlotNotAPoint], slots);
        // The corners (x0 | x1, y0 | y1), x fastest, encoded like a box corner at that pixel (both add 0.5).
        float[][] corners = [[10, 20], [50, 20], [10, 80], [50, 80]];
        var features = points.Features.ToFloatArray();
        int e = points.Features.Shape[2];
        for (int p = 0; p < 4; p++)
        {
            var asCorner = PixelLlmPrompts.Encode(HostTensor.FromArray(new[] { corners[p][0], corners[p][1], 100f, 100f }, 1, 4), gaussian, canvas, 2, false);
            Assert.Equal(asCorner.Features.ToFloatArray().AsSpan(0, e).ToArray(), features.AsSpan(p * e, e).ToArray());
        }
        var withBoxes = PixelLlmPrompts.Encode(box, gaussian, canvas, 2, withOffset: false);
        Assert.Equal([1], withBoxes.BoxValid.AsSpan<byte>().ToArray());
    }

    /// <summary>With the keys reversed, the fused map is the golden's two halves swapped, bit for bit.</summary>
    [Fact]
    public void TheMapsAreConcatenatedInKeyOrder()
    {
        using var golden = GoldenCase.Open(Path.Combine(Golden.Root, "pixelllm", "caption_trace"));
        var reversed = PixelLlmConfigJson.FromScenic(golden.Config) with { FeatureKeys = [VisualFeature.Sam, VisualFeature.Eva] };
        using var backend = new CpuBackend();
        using var model = PixelLlmWeights.Create(reversed, golden.Weights, backend);
        var trace = new Dictionary<string, HostTensor>();
        model.EncodeImage(golden.Input("in.image"), trace);

        using var original = PixelLlmWeights.Create(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        var originalTrace = new Dictionary<string, HostTensor>();
        original.EncodeImage(golden.Input("in.image"), originalTrace);

        var swapped = trace["mid.fused_features"].ToFloatArray();
        var fused = originalTrace["mid.fused_features"].ToFloatArray();
        int eva = reversed.Eva.EmbedDim, sam = reversed.Sam.OutChans, width = eva + sam;
        Assert.Equal(fused.Length, swapped.Length);
        for (int p = 0; p < fused.Length / width; p++)
        {
            Assert.Equal(fused.AsSpan(p * width + eva, sam).ToArray(), swapped.AsSpan(p * width, sam).ToArray());
            Assert.Equal(fused.AsSpan(p * width, eva).ToArray(), swapped.AsSpan(p * width + sam, eva).ToArray());
        }
    }
}
