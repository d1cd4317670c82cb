using System.Diagnostics;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests.Models;

/// <summary>
/// The mask branch at PixelLLM's real sizes (spec §7.2–7.3: SAM grid 24² of a 384² canvas, E 256, scenic's hard-coded 8 heads
/// and MLP 2048, T5-XL width 2048, 32 visual tokens) on seeded random weights: it builds from the scenic checklist, yields
/// 96×96 logits, and reports its CPU time.
/// </summary>
public class MaskBranchScaleTests(ITestOutputHelper log)
{
    [Fact]
    public void RunsAtPixelLlmSizeWithRandomWeights()
    {
        using var golden = ScenicGolden.Open("referring");
        const int e = 256, d = 2048, grid = 24, visualTokens = 32, length = 32;
        var branch = new MaskBranchConfig(new MaskAdapterConfig(2, e, 2, e, Gating: true), MaskDecoderConfig.Sam, 384, 384);
        var tiny = PixelLlmConfigJson.FromScenic(golden.Config);
        var config = tiny with { Canvas = 384, PromptEmbedDim = e, LanguageModel = PixelLlmLanguageModel.OfT5(tiny.T5 with { DModel = d }), MaskBranch = branch };

        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal)
        {
            ["prompt_encoder/pe_layer/positional_encoding_gaussian_matrix"] = [2, e / 2],
            ["prompt_encoder/not_a_point_embed.weight"] = [1, e],
            ["prompt_encoder/no_mask_embed.weight"] = [1, e],
        };
        for (int i = 0; i < 4; i++) shapes[$"prompt_encoder/point_embeddings.{i}.weight"] = [1, e];
        ScenicMaskShapes.Add(shapes, branch, d, d); // T5: visual tokens are d wide after visual_project_layers
        var weights = new ScenicWeights(new RandomWeights(shapes, seed: 7), new ScenicWeightsOptions(2f));
        using var backend = new CpuBackend();
        using var model = new PixelLlm(config, weights, backend);
        using var segmentation = new ReferringSegmentation(model);

        var random = new Random(3);
        HostTensor Noise(params int[] shape) =>
            HostTensor.FromArray(Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), shape);
        var image = new ImageFeatures(Noise(1, grid, grid, 2 * e), 300, 384) { Sam = Noise(1, grid, grid, e) };
        var encoding = new PromptEncoding(Noise(1, visualTokens + 8, d), []) { VisualTokens = Noise(1, visualTokens, d) };
        float[][] boxes = [[20f, 30f, 250f, 280f]];

        var masks = segmentation.PredictMasks(image, encoding, Noise(1, length, d), boxes);
        var watch = Stopwatch.StartNew();
        const int runs = 3;
        for (int i = 0; i < runs; i++) masks = segmentation.PredictMasks(image, encoding, Noise(1, length, d), boxes);
        log.WriteLine($"mask branch at 384² (N=1, K={visualTokens}, L={length}): {watch.Elapsed.TotalMilliseconds / runs:F1} ms per call on the CPU");

        Assert.Equal(new Shape(1, 4 * grid, 4 * grid), masks.Logits.Shape);
        var logits = masks.Logits.ToFloatArray();
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        Assert.True(logits.Max() - logits.Min() > 1e-3, "constant mask logits");
        Assert.True(float.IsFinite(Assert.Single(masks.IouPredictions)));
    }
}
