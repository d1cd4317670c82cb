using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// Referring segmentation (pixelllm_refseg) against the oracle: every out.* / mid.* tensor through `pixelllm verify`'s path
/// (masks exact, logits within the case tolerance), and the model-level <see cref="ReferringSegmentation.Segment"/> entry point
/// loaded from scenic's msgpack checkpoint reproducing the beam variant.
/// </summary>
public class PixelLlmRefsegGoldenTests(ITestOutputHelper log)
{
    private const string Component = "pixelllm_refseg", Case = "referring_segmentation";

    [Fact]
    public void MatchesScenicReferringSegmentation()
    {
        var report = GoldenCaseAssert.Passes(Component, Case);
        foreach (var c in report.Checks) log.WriteLine($"{c.Name} {c.Shape}: max abs {c.MaxAbsError:E2}, err/tol {c.WorstRatio:F3} {c.Note}");
        foreach (var variant in new[] { "teacher", "beam" })
            foreach (var expected in new[] { "detection_boxes", "detection_masks", "binary_masks", "iou_predictions", "mask_sparse_box",
                "mask_adapter_tokens", "mask_sparse_adapted", "mask_upscaled_embedding" })
                Assert.Contains(report.Checks, c => c.Name.EndsWith($"{variant}.{expected}", StringComparison.Ordinal));
        Assert.Contains(report.Checks, c => c.Name == "mid.mask_dense_pe");
    }

    [Fact]
    public void SegmentReproducesTheBeamVariantFromTheScenicCheckpoint()
    {
        var dir = Path.Combine(Golden.Root, Component);
        using var golden = GoldenCase.Open(Path.Combine(dir, Case));
        using var backend = new CpuBackend();
        using var model = PixelLlm.Load(Path.Combine(dir, Case + ".json"), Path.Combine(dir, "tiny_t5_refseg.scenic.msgpack"), backend);
        using var segmentation = new ReferringSegmentation(model);
        var image = model.EncodeImage(golden.Input("in.image"));
        var context = Rows(golden.Input("in.context_tokens"));
        var results = segmentation.Segment(image, context, PixelLlmRunner.ParseMode("beam 3 / per-node 1 / alpha 0.6"));

        var tokens = Rows(golden.Input("out.beam.text_tokens"));
        var boxes = golden.Input("out.beam.detection_boxes").ToFloatArray();
        var logits = golden.Input("out.beam.detection_masks").ToFloatArray();
        var iou = golden.Input("out.beam.iou_predictions").ToFloatArray();
        var scores = golden.Input("out.beam.log_probs").ToFloatArray();
        Assert.Equal(context.Length, results.Length);
        for (int i = 0; i < results.Length; i++)
        {
            var r = results[i];
            Assert.Equal(tokens[i], r.Tokens);
            Assert.Equal(scores[i], r.Score, 1e-4f);
            for (int k = 0; k < 4; k++) Assert.True(Math.Abs(r.Box[k] - boxes[i * 4 + k]) <= 2e-3 + 1e-4 * Math.Abs(boxes[i * 4 + k]), $"box {i}.{k}");
            Assert.Equal(iou[i], r.Iou, 1e-4f);
            var side = r.MaskLogits.Shape[0] * r.MaskLogits.Shape[1];
            var reference = HostTensor.FromArray(logits.AsSpan(i * side, side).ToArray(), r.MaskLogits.Shape[0], r.MaskLogits.Shape[1]);
            var check = GoldenComparison.CompareOne($"mask {i}", reference, r.MaskLogits, Tolerance.Default);
            Assert.True(check.Passed, $"mask {i}: max abs {check.MaxAbsError:E2}");

            // The image-resolution mask is the evaluator's post-processing of those logits: equal wherever the resized reference
            // logit is not within the logit tolerance of 0.
            Assert.Equal(new Shape(image.Height, image.Width), r.Mask.Shape);
            int cropH = image.Height * reference.Shape[0] / model.Config.Canvas, cropW = image.Width * reference.Shape[1] / model.Config.Canvas;
            var resized = MaskPostprocess.ResizeBilinear(reference.ToFloatArray(), reference.Shape[0], reference.Shape[1], cropH, cropW, image.Height, image.Width);
            var mask = r.Mask.AsSpan<byte>();
            int compared = 0;
            for (int p = 0; p < resized.Length; p++)
            {
                if (Math.Abs(resized[p]) <= 1e-3) continue;
                Assert.Equal(resized[p] > 0 ? 1 : 0, mask[p]);
                compared++;
            }
            Assert.True(compared > resized.Length * 0.99, $"mask {i}: only {compared} of {resized.Length} pixels away from 0");
            Assert.InRange(mask.ToArray().Count(v => v == 1), 1, mask.Length - 1);
        }
    }

    [Fact]
    public void AModelWithoutAMaskBranchCannotSegment()
    {
        using var golden = ScenicGolden.Open("referring");
        using var backend = new CpuBackend();
        using var model = PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        var e = Assert.Throws<ModelFileException>(() => new ReferringSegmentation(model));
        Assert.Contains("mask branch", e.Message);
    }

    private static int[][] Rows(HostTensor t)
    {
        int length = t.Shape[-1], rows = (int)(t.Desc.ElementCount / length);
        var v = t.ToFloatArray();
        return Enumerable.Range(0, rows).Select(r => v.Skip(r * length).Take(length).Select(x => (int)x).ToArray()).ToArray();
    }
}
