using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// The referring-segmentation branch piece by piece: scenic names and layouts of mask_adapter / mask_decoder, the checklist of
/// their shapes, config parsing errors, the mask stage alone on the golden's own intermediates (and its gate), and the
/// evaluator's crop + bilinear resize.
/// </summary>
public class MaskBranchTests
{
    private const string Component = "pixelllm_refseg";
    private static string CasePath => Path.Combine(Golden.Root, Component, "referring_segmentation");

    [Fact]
    public void EveryMaskBranchTensorIsMappedAndExpected()
    {
        using var golden = GoldenCase.Open(CasePath);
        var config = PixelLlmConfigJson.FromScenic(golden.Config);
        var weights = new ScenicWeights(golden.Weights, new ScenicWeightsOptions(2f, 4));
        Assert.Empty(weights.Unmapped);
        var maskPaths = golden.Weights.Names.Where(n => n.StartsWith("mask_", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(212, maskPaths.Count);
        var expected = ScenicParameterShapes.For(config);
        Assert.Equal(maskPaths, expected.Keys.Where(n => n.StartsWith("mask_", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        weights.Validate(expected);
        // scenic sizes the hypernetworks by iou_head_hidden_dim, not transformer_dim (errata D1).
        Assert.Equal([32, 24], expected["mask_decoder/output_hypernetworks_mlps.3/layers.0/kernel"]);
        Assert.Equal("mask_decoder/output_hypernetworks_mlps.1/layers.2/kernel", weights.SourcesOf("sam.mask_decoder.output_hypernetworks_mlps.1.layers.2.weight")[0]);
        Assert.Equal("mask_adapter/textual_projection_mlp/LayerNorm_0/scale", weights.SourcesOf("mask_adapter.textual_projection.norm.weight")[0]);
        Assert.Equal("mask_adapter/transformer/layers.1/mlp/lin2/kernel", weights.SourcesOf("mask_adapter.transformer.layers.1.mlp.lin2.weight")[0]);

        // A config whose mask decoder is sized differently is rejected naming the scenic tensor.
        var wrong = config with { MaskBranch = config.MaskBranch! with { Decoder = config.MaskBranch.Decoder with { IouHeadHiddenDim = 32 } } };
        var e = Assert.Throws<ModelFileException>(() => weights.Validate(ScenicParameterShapes.For(wrong)));
        Assert.Contains("mask_decoder/iou_prediction_head/layers.0/kernel", e.Message);
    }

    [Fact]
    public void ConvTransposeKernelsBecomeTorchLayout()
    {
        using var golden = GoldenCase.Open(CasePath);
        var weights = new ScenicWeights(golden.Weights, new ScenicWeightsOptions(2f, 4));
        // Flax ConvTranspose (transpose_kernel=True) stores (kh, kw, out, in); torch ConvTranspose2d wants (in, out, kh, kw).
        var flax = golden.Weights.Get("mask_decoder/output_upscaling/3/kernel");
        var torch = weights.Get("sam.mask_decoder.output_upscaling.3.weight");
        int kh = flax.Shape[0], kw = flax.Shape[1], co = flax.Shape[2], ci = flax.Shape[3];
        Assert.Equal(new Shape(ci, co, kh, kw), torch.Shape);
        var f = flax.ToFloatArray();
        var t = torch.ToFloatArray();
        for (int y = 0; y < kh; y++)
            for (int x = 0; x < kw; x++)
                for (int o = 0; o < co; o++)
                    for (int i = 0; i < ci; i++) Assert.Equal(f[((y * kw + x) * co + o) * ci + i], t[((i * co + o) * kh + y) * kw + x]);
        // Dense kernels are transposed, the gate table is as is.
        Assert.Equal(new Shape(24, 32), weights.Get("sam.mask_decoder.iou_prediction_head.layers.0.weight").Shape);
        Assert.Equal(golden.Weights.Get("mask_adapter/alpha_output.weight").ToFloatArray(), weights.Get("mask_adapter.alpha_output.weight").ToFloatArray());
    }

    [Theory]
    [InlineData("mask_decoder_feature_key", "\"git_visual_features+sam_visual_features\"", "mask_decoder_feature_key")]
    [InlineData("mask_adapter", "null", "mask_adapter")]
    [InlineData("sam_preprocess_image_size", "[120]", "sam_preprocess_image_size")]
    [InlineData("mask_decoder", "{\"num_heads\": 8}", "transformer_dim")]
    public void RejectsBadMaskBranchConfigs(string key, string value, string named)
    {
        using var golden = GoldenCase.Open(CasePath);
        var node = JsonNode.Parse(golden.Config.GetRawText())!.AsObject();
        node[key] = JsonNode.Parse(value);
        using var doc = JsonDocument.Parse(node.ToJsonString());
        var e = Assert.Throws<ModelFileException>(() => PixelLlmConfigJson.FromScenic(doc.RootElement));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void ReadsTheMaskBranchConfig()
    {
        using var golden = GoldenCase.Open(CasePath);
        var m = PixelLlmConfigJson.FromScenic(golden.Config).MaskBranch!;
        Assert.Equal((120, 120), (m.PreprocessHeight, m.PreprocessWidth));
        Assert.Equal(new MaskAdapterConfig(2, 32, 2, 32, 8, 48, 2, Gating: true), m.Adapter);
        Assert.Equal((32, 2, 64, 24, 3), (m.Decoder.TransformerDim, m.Decoder.Transformer.Depth, m.Decoder.Transformer.MlpDim,
            m.Decoder.IouHeadHiddenDim, m.Decoder.NumMultimaskOutputs));
        using var plain = ScenicGolden.Open("referring");
        Assert.Null(PixelLlmConfigJson.FromScenic(plain.Config).MaskBranch);
    }

    [Fact]
    public void MaskStageAloneReproducesTheGoldenAndItsGateMatters()
    {
        using var golden = GoldenCase.Open(CasePath);
        var config = PixelLlmConfigJson.FromScenic(golden.Config);
        var gated = Predict(golden, config, golden.Weights, out var trace);
        foreach (var name in new[] { "mid.teacher.mask_sparse_box", "mid.teacher.mask_adapter_tokens", "mid.teacher.mask_sparse_adapted",
            "mid.teacher.mask_upscaled_embedding", "mid.mask_dense_pe" })
        {
            var reference = golden.Input(name);
            var check = GoldenComparison.CompareOne(name, reference, HostTensor.FromArray(trace[name].ToFloatArray(), reference.Shape.ToArray()), Tolerance.Default);
            Assert.True(check.Passed, $"{name}: max abs {check.MaxAbsError:E2}");
        }
        var logits = golden.Input("out.teacher.detection_masks");
        var masks = GoldenComparison.CompareOne("masks", logits, HostTensor.FromArray(gated.Logits.ToFloatArray(), logits.Shape.ToArray()), Tolerance.Default);
        Assert.True(masks.Passed, $"masks: max abs {masks.MaxAbsError:E2}");
        var iou = golden.Input("out.teacher.iou_predictions").ToFloatArray();
        for (int i = 0; i < iou.Length; i++) Assert.Equal(iou[i], gated.IouPredictions[i], 1e-4f);

        // scenic initialises alpha to 0: the adapter then leaves the box prompt untouched, and the masks change.
        var tensors = golden.Weights.Names.ToDictionary(n => n, golden.Weights.Get, StringComparer.Ordinal);
        tensors["mask_adapter/alpha_output.weight"] = HostTensor.Zeros(DType.F32, 2, 32);
        var closed = Predict(golden, config, new DictionaryWeights(tensors), out var closedTrace);
        Assert.Equal(closedTrace["mid.teacher.mask_sparse_box"].ToFloatArray(), closedTrace["mid.teacher.mask_sparse_adapted"].ToFloatArray());
        var difference = closed.Logits.ToFloatArray().Zip(gated.Logits.ToFloatArray(), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(difference > 0.01, $"the gate changed the logits by only {difference}");
    }

    private static MaskPrediction Predict(GoldenCase golden, PixelLlmConfig config, IWeightSource scenic, out Dictionary<string, HostTensor> trace)
    {
        using var backend = new CpuBackend();
        using var model = PixelLlm.FromScenic(config, scenic, backend);
        using var segmentation = new ReferringSegmentation(model);
        var visual = golden.Input("mid.visual_features");
        var image = new ImageFeatures(golden.Input("mid.fused_features"), 93, 120) { Sam = golden.Input("mid.sam_visual_features") };
        var encoding = new PromptEncoding(golden.Input("mid.encoder_output"), []) { VisualTokens = HostTensor.FromArray(visual.ToFloatArray(), 3, 4, 32) };
        var text = HostTensor.FromArray(golden.Input("mid.teacher.text_feats").ToFloatArray(), 3, 12, 32);
        var b = golden.Input("out.teacher.detection_boxes").ToFloatArray();
        var boxes = Enumerable.Range(0, 3).Select(i => b[(i * 4)..(i * 4 + 4)]).ToArray();
        trace = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        return segmentation.PredictMasks(image, encoding, text, boxes, trace, "teacher.");
    }

    [Fact]
    public void ResizeFollowsOpenCvBilinear()
    {
        // cv2.resize(np.float32([[0, 1]]), (4, 1)) = [0, 0.25, 0.75, 1]; ([[0, 1, 2, 3]], (2, 1)) = [0.5, 2.5].
        Assert.Equal([0f, 0.25f, 0.75f, 1f], MaskPostprocess.ResizeBilinear([0, 1], 1, 2, 1, 2, 1, 4));
        Assert.Equal([0.5f, 2.5f], MaskPostprocess.ResizeBilinear([0, 1, 2, 3], 1, 4, 1, 4, 1, 2));
        // Only the top-left block is read: the 9s lie outside it.
        Assert.Equal([1f, 1.25f, 1.75f, 2f], MaskPostprocess.ResizeBilinear([1, 2, 9, 9, 9, 9], 2, 3, 1, 2, 1, 4));
    }

    [Fact]
    public void ImageMaskCropsTheCanvasGridToTheImage()
    {
        // A 28×28 grid over a 120² canvas; a 93×120 image covers rows [0, int(93·28/120)) = [0, 21).
        var logits = new float[28 * 28];
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) logits[y * 28 + x] = y >= 21 ? 5f : x < 14 ? 1f : -1f;
        var mask = MaskPostprocess.ToImageMask(HostTensor.FromArray(logits, 28, 28), 93, 120, 120);
        Assert.Equal(new Shape(93, 120), mask.Shape);
        var m = mask.AsSpan<byte>().ToArray();
        Assert.All(Enumerable.Range(0, 93), y => Assert.Equal(60, m.Skip(y * 120).Take(120).Count(v => v == 1)));
        Assert.All(Enumerable.Range(0, 93), y => Assert.Equal(1, m[y * 120]));
        Assert.Throws<InvalidInputException>(() => MaskPostprocess.ToImageMask(HostTensor.FromArray(logits, 28, 28), 121, 120, 120));
    }
}
