using PixelLLM.Models;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;

namespace PixelLLM.Tests.Api;

/// <summary>
/// <see cref="PixelLlmModel.Segment"/> on the pixelllm_refseg tiny model: the beam variant's tokens, box, mask logits, IoU and
/// binary mask through the public API, the teacher variant's with the expressions as the decoder input, the same at twice the resolution (coordinates and mask mapped back to the original),
/// and the typed error of a model without a mask branch.
/// </summary>
public sealed class SegmentApiTests(RefsegModel refseg) : IClassFixture<RefsegModel>
{
    private static readonly string[] Expressions = ["the white cat near the table", "a green boat"];
    private static readonly Tolerance MaskLogits = new(2e-4, 1e-4);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void SegmentReproducesTheBeamVariant(int slot)
    {
        using var golden = GoldenCase.Open(Path.Combine(refseg.GoldenDir, refseg.CaseName));
        var image = PixelImage.Load(refseg.ImagePath);
        var result = refseg.Model.Segment(image, Expressions[slot]);

        var row = Row(golden.Input("out.beam.text_tokens"), slot);
        Assert.Equal(row.Take(result.Tokens.Count), result.Tokens);
        Assert.Equal(1, result.Tokens[^1]);
        Assert.Equal(golden.Input("out.beam.log_probs").ToFloatArray()[slot], result.Score!.Value, 1e-4f);
        AssertBox(golden.Input("out.beam.detection_boxes").ToFloatArray().AsSpan(slot * 4, 4), result.Box, 1);
        Assert.Equal(golden.Input("out.beam.iou_predictions").ToFloatArray()[slot], result.Iou, 1e-4f);

        var reference = SlotLogits(golden, slot);
        var mine = HostTensor.FromArray(result.Logits.Values.ToArray(), result.Logits.Height, result.Logits.Width);
        var check = GoldenComparison.CompareOne("mask logits", reference, mine, MaskLogits);
        Assert.True(check.Passed, $"max abs {check.MaxAbsError:E2}");
        AssertMaskFollows(reference, result.Mask, image.Width, image.Height);
    }

    /// <summary>
    /// Both expressions in one call, as the golden decoded them (one batch): each result is the beam variant's slot, and on
    /// the CPU bit for bit the single call's.
    /// </summary>
    [Fact]
    public void SeveralExpressionsInOneCallAreTheBeamVariantsSlots()
    {
        using var golden = GoldenCase.Open(Path.Combine(refseg.GoldenDir, refseg.CaseName));
        var image = PixelImage.Load(refseg.ImagePath);
        var trace = new Dictionary<string, HostTensor>();
        var results = refseg.Model.Segment(image, Expressions, new RequestOptions { Trace = trace });
        Assert.Equal(Expressions.Length, results.Count);
        for (int slot = 0; slot < Expressions.Length; slot++)
        {
            var result = results[slot];
            Assert.Equal(Expressions[slot], result.Expression);
            var row = Row(golden.Input("out.beam.text_tokens"), slot);
            Assert.Equal(row.Take(result.Tokens.Count), result.Tokens);
            AssertBox(golden.Input("out.beam.detection_boxes").ToFloatArray().AsSpan(slot * 4, 4), result.Box, 1);
            Assert.Equal(golden.Input("out.beam.iou_predictions").ToFloatArray()[slot], result.Iou, 1e-4f);
            var mine = HostTensor.FromArray(result.Logits.Values.ToArray(), result.Logits.Height, result.Logits.Width);
            Assert.True(GoldenComparison.CompareOne("mask logits", SlotLogits(golden, slot), mine, MaskLogits).Passed);
            Assert.Equal(refseg.Model.Segment(image, Expressions[slot]).ToJson(), result.ToJson());
        }
        Assert.Equal([Expressions.Length, results[0].Logits.Height, results[0].Logits.Width], trace["out.detection_masks"].Shape.ToArray());
        Assert.Throws<InvalidInputException>(() => refseg.Model.Segment(image, []));
        Assert.Throws<InvalidInputException>(() => refseg.Model.Segment(image, [Expressions[0], " "]));
    }

    /// <summary>
    /// With the expressions as the decoder input (decodeText false; the CLI's --teacher-forced) both slots are the golden's
    /// teacher variant: tokens, box, IoU and mask logits; the text is the expression and there is no score. The mask branch
    /// is prompted with a box that the beam variant's differs from, so this is a different path's output, not a re-label.
    /// </summary>
    [Fact]
    public void TeacherForcedSegmentationReproducesTheTeacherVariant()
    {
        using var golden = GoldenCase.Open(Path.Combine(refseg.GoldenDir, refseg.CaseName));
        var image = PixelImage.Load(refseg.ImagePath);
        var results = refseg.Model.Segment(image, Expressions, decodeText: false);
        for (int slot = 0; slot < Expressions.Length; slot++)
        {
            var result = results[slot];
            Assert.Equal(Expressions[slot], result.Text);
            Assert.Null(result.Score);
            var row = Row(golden.Input("out.teacher.text_tokens"), slot);
            Assert.Equal(row.Take(result.Tokens.Count), result.Tokens);
            AssertBox(golden.Input("out.teacher.detection_boxes").ToFloatArray().AsSpan(slot * 4, 4), result.Box, 1);
            Assert.Equal(golden.Input("out.teacher.iou_predictions").ToFloatArray()[slot], result.Iou, 1e-4f);
            var reference = SlotLogits(golden, slot, "teacher");
            var mine = HostTensor.FromArray(result.Logits.Values.ToArray(), result.Logits.Height, result.Logits.Width);
            var check = GoldenComparison.CompareOne("mask logits", reference, mine, MaskLogits);
            Assert.True(check.Passed, $"slot {slot}: max abs {check.MaxAbsError:E2}");
            Assert.Equal(refseg.Model.Segment(image, Expressions[slot], decodeText: false).ToJson(), result.ToJson());
            Assert.Contains("\"score\": null", System.Text.Encoding.UTF8.GetString(result.ToJson()));
        }
        var tooLong = Assert.Throws<InvalidInputException>(() => refseg.Model.Segment(image, string.Join(' ', Enumerable.Repeat("boat", 11)), decodeText: false));
        Assert.Contains("too long", tooLong.Message);
    }

    [Fact]
    public void AtTwiceTheResolutionBoxAndMaskAreInOriginalPixels()
    {
        // A 2× nearest-neighbour upscale resizes back to exactly the original pixels (half-pixel bilinear averages equal
        // pairs), so the model sees the golden image and only the mapping back to the original differs.
        var small = PixelImage.Load(refseg.ImagePath);
        var large = Upscale2(small);
        var result = refseg.Model.Segment(large, Expressions[0]);
        using var golden = GoldenCase.Open(Path.Combine(refseg.GoldenDir, refseg.CaseName));
        AssertBox(golden.Input("out.beam.detection_boxes").ToFloatArray().AsSpan(0, 4), result.Box, 2);
        Assert.Equal((large.Width, large.Height), (result.Mask.Width, result.Mask.Height));
        AssertMaskFollows(SlotLogits(golden, 0), result.Mask, small.Width, small.Height);
    }

    [Fact]
    public void JsonCarriesTheMaskAsColumnMajorRunLengths()
    {
        var result = refseg.Model.Segment(PixelImage.Load(refseg.ImagePath), Expressions[1]);
        var runs = ResultJson.ColumnMajorRuns(result.Mask);
        Assert.Equal(result.Mask.Width * result.Mask.Height, runs.Sum());
        Assert.Equal(result.Mask.Area, runs.Where((_, i) => i % 2 == 1).Sum());
        // Decode the runs and compare every pixel.
        int position = 0;
        for (int r = 0; r < runs.Count; r++)
            for (int k = 0; k < runs[r]; k++, position++)
            {
                int x = position / result.Mask.Height, y = position % result.Mask.Height;
                Assert.Equal(r % 2 == 1, result.Mask[x, y]);
            }
        Assert.Equal(result.ToJson(), refseg.Model.Segment(PixelImage.Load(refseg.ImagePath), Expressions[1]).ToJson());
    }

    [Fact]
    public void SegmentStreamsStagesThenTheResult()
    {
        var events = new List<PixelLlmEvent>();
        var result = refseg.Model.Segment(PixelImage.Load(refseg.ImagePath), Expressions[0], new RequestOptions { OnEvent = events.Add });
        Assert.Equal(["vision", "segment"], events.OfType<StageStarted>().Select(s => s.Stage));
        Assert.Same(result, Assert.IsType<SegmentReady>(events[^1]).Result);
    }

    [Fact]
    public void ModelsWithoutTheBranchOrBadTextGiveOneLineErrors()
    {
        using var tiny = new TinyModel();
        var e = Assert.Throws<InvalidInputException>(() => tiny.Model.Segment(TinyModel.Image("referring"), "a dog"));
        Assert.Contains("no mask branch", e.Message);
        Assert.False(tiny.Model.CanSegment);
        Assert.True(refseg.Model.CanSegment);
        var image = PixelImage.Load(refseg.ImagePath);
        Assert.Throws<InvalidInputException>(() => refseg.Model.Segment(image, " "));
        var tooLong = Assert.Throws<InvalidInputException>(() => refseg.Model.Segment(image, string.Join(' ', Enumerable.Repeat("the red ball", 20))));
        Assert.Contains("too long", tooLong.Message);
        Assert.DoesNotContain('\n', tooLong.Message);
    }

    /// <summary>The mask equals the evaluator's resize of the REFERENCE logits to the mask's size wherever that is not within 1e-3 of 0.</summary>
    private void AssertMaskFollows(HostTensor reference, BinaryMask mask, int evalWidth, int evalHeight)
    {
        int grid = reference.Shape[0], canvas = refseg.Model.Canvas;
        int cropH = evalHeight * grid / canvas, cropW = evalWidth * reference.Shape[1] / canvas;
        var resized = MaskPostprocess.ResizeBilinear(reference.ToFloatArray(), grid, reference.Shape[1], cropH, cropW, mask.Height, mask.Width);
        int compared = 0;
        for (int p = 0; p < resized.Length; p++)
        {
            if (Math.Abs(resized[p]) <= 1e-3) continue;
            Assert.Equal(resized[p] > 0 ? 1 : 0, mask.Pixels[p]);
            compared++;
        }
        Assert.True(compared > resized.Length * 0.99, $"only {compared} of {resized.Length} pixels away from 0");
        Assert.InRange(mask.Area, 1, resized.Length - 1);
    }

    private static void AssertBox(ReadOnlySpan<float> expected, Box? box, float scale)
    {
        Assert.NotNull(box);
        float[] mine = [box.Value.X0, box.Value.Y0, box.Value.X1, box.Value.Y1];
        for (int k = 0; k < 4; k++)
        {
            double e = expected[k] * scale;
            Assert.True(Math.Abs(mine[k] - e) <= scale * (2e-3 + 1e-4 * Math.Abs(expected[k])), $"box[{k}] {mine[k]} vs {e}");
        }
    }

    private static HostTensor SlotLogits(GoldenCase golden, int slot, string variant = "beam")
    {
        var all = golden.Input($"out.{variant}.detection_masks");
        int h = all.Shape[2], w = all.Shape[3];
        return HostTensor.FromArray(all.ToFloatArray().AsSpan(slot * h * w, h * w).ToArray(), h, w);
    }

    private static int[] Row(HostTensor t, int row)
    {
        int length = t.Shape[-1];
        return t.ToFloatArray().AsSpan(row * length, length).ToArray().Select(v => (int)v).ToArray();
    }

    internal static PixelImage Upscale2(PixelImage image)
    {
        int w = image.Width * 2, h = image.Height * 2;
        var rgb = new byte[w * h * 3];
        var source = image.Rgb;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = source[((y / 2) * image.Width + x / 2) * 3 + c];
        return PixelImage.FromRgb(rgb, w, h, image.Source + " ×2");
    }
}
