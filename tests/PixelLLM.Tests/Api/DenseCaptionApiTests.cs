using PixelLLM.Models.Verification;
using PixelLLM.Runtime;

namespace PixelLLM.Tests.Api;

/// <summary>
/// <see cref="PixelLlmModel.DenseCaption"/> on the pixelllm_densecap tiny model: the counted detections (score &gt; 0) with the
/// golden's boxes, scores and captions; boxes mapped back at twice the resolution; N boxes captioned in one batch equal N
/// single calls; the typed error of a model without a box decoder.
/// </summary>
public sealed class DenseCaptionApiTests(DensecapModel densecap) : IClassFixture<DensecapModel>
{
    /// <summary>The README's result table: the three slots with a positive score.</summary>
    private static readonly string[] Captions = ["vtoq ob manho ob birdt tree", "var", "varo: obre wh atou"];

    [Fact]
    public void DenseCaptionReproducesTheGoldenDetectionsAndCaptions()
    {
        using var golden = GoldenCase.Open(Path.Combine(densecap.GoldenDir, densecap.CaseName));
        var result = densecap.Model.DenseCaption(PixelImage.Load(densecap.ImagePath));
        AssertGolden(golden, result, 1);
    }

    [Fact]
    public void AtTwiceTheResolutionBoxesAreInOriginalPixels()
    {
        using var golden = GoldenCase.Open(Path.Combine(densecap.GoldenDir, densecap.CaseName));
        var result = densecap.Model.DenseCaption(SegmentApiTests.Upscale2(PixelImage.Load(densecap.ImagePath)));
        AssertGolden(golden, result, 2);
    }

    /// <summary>The default KV-cache decode of the K slots gives the reference's full-rerun captions and scores.</summary>
    [Fact]
    public void TheCachedDecodeOfEverySlotEqualsTheFullRerun()
    {
        using var rerun = PixelLlmModel.Load(densecap.Directory, new PixelLlmOptions { FullRerunDecoding = true });
        var image = PixelImage.Load(densecap.ImagePath);
        var cached = densecap.Model.DenseCaption(image);
        var reference = rerun.DenseCaption(image);
        Assert.Equal(reference.Slots, cached.Slots);
        Assert.Equal(reference.Detections.Count, cached.Detections.Count);
        for (int i = 0; i < cached.Detections.Count; i++)
        {
            Assert.Equal(reference.Detections[i].Text, cached.Detections[i].Text);
            Assert.Equal(reference.Detections[i].Tokens, cached.Detections[i].Tokens);
            Assert.Equal(reference.Detections[i].Box, cached.Detections[i].Box);
            Assert.Equal(reference.Detections[i].Score, cached.Detections[i].Score);
            Assert.Equal(reference.Detections[i].LogProb, cached.Detections[i].LogProb, 1e-5f);
        }
    }

    [Fact]
    public void BoxesCaptionedInOneBatchEqualSingleCalls()
    {
        var image = PixelImage.Load(densecap.ImagePath);
        Box[] boxes = [new(10, 20, 120, 150), new(100, 0, 240, 90), new(50, 60, 200, 170), new(0, 0, 240, 176)];
        var batch = densecap.Model.Caption(image, boxes);
        Assert.Equal(boxes.Length, batch.Count);
        for (int i = 0; i < boxes.Length; i++)
        {
            var single = densecap.Model.Caption(image, boxes[i]);
            Assert.Equal(single.Text, batch[i].Text);
            Assert.Equal(single.Tokens.Select(t => t.Id), batch[i].Tokens.Select(t => t.Id));
            Assert.Equal(single.Score, batch[i].Score); // bit for bit, as ApiBehaviourTests explains
            Assert.Null(batch[i].TraceBox); // no point head in the densecap configuration
        }
        Assert.True(batch.Select(r => r.Text).Distinct().Count() > 1, "the boxes should not all give the same caption");
    }

    [Fact]
    public void DetectionTokensRunFromBosToTheFirstEosAndTheJsonIsStable()
    {
        var image = PixelImage.Load(densecap.ImagePath);
        var result = densecap.Model.DenseCaption(image);
        Assert.All(result.Detections, d =>
        {
            Assert.Equal(0, d.Tokens[0]);
            Assert.Equal(1, d.Tokens[^1]);
            Assert.DoesNotContain(1, d.Tokens.Take(d.Tokens.Count - 1));
        });
        Assert.Equal(result.ToJson(), densecap.Model.DenseCaption(image).ToJson());
    }

    [Fact]
    public void DenseCaptionStreamsStagesThenTheResult()
    {
        var events = new List<PixelLlmEvent>();
        var result = densecap.Model.DenseCaption(PixelImage.Load(densecap.ImagePath), new RequestOptions { OnEvent = events.Add });
        Assert.Equal(["vision", "densecap"], events.OfType<StageStarted>().Select(s => s.Stage));
        Assert.Same(result, Assert.IsType<DenseCaptionReady>(events[^1]).Result);
    }

    [Fact]
    public void AModelWithoutABoxDecoderGivesOneLineError()
    {
        using var tiny = new TinyModel();
        var e = Assert.Throws<InvalidInputException>(() => tiny.Model.DenseCaption(TinyModel.Image("referring")));
        Assert.Contains("no box decoder", e.Message);
        Assert.False(tiny.Model.CanDenseCaption);
        Assert.True(densecap.Model.CanDenseCaption);
        Assert.False(densecap.Model.CanSegment);
    }

    private static void AssertGolden(GoldenCase golden, DenseCaptionResults result, float scale)
    {
        int counted = (int)golden.Input("out.num_detections").ToFloatArray()[0];
        var boxes = golden.Input("out.detection_boxes").ToFloatArray();
        var scores = golden.Input("out.detection_scores").ToFloatArray();
        var tokens = golden.Input("out.text_tokens");
        int l = tokens.Shape[-1];
        var ids = tokens.ToFloatArray();
        Assert.Equal(8, result.Slots);
        Assert.Equal(counted, result.Detections.Count);
        Assert.Equal(Captions, result.Detections.Select(d => d.Text));
        for (int i = 0; i < counted; i++)
        {
            var d = result.Detections[i];
            Assert.Equal(i, d.Slot);
            Assert.True(Math.Abs(d.Score - scores[i]) <= 2e-5 + 1e-4 * Math.Abs(scores[i]), $"score {i}: {d.Score} vs {scores[i]}");
            float[] mine = [d.Box.X0, d.Box.Y0, d.Box.X1, d.Box.Y1];
            for (int k = 0; k < 4; k++)
            {
                double e = boxes[i * 4 + k] * scale;
                Assert.True(Math.Abs(mine[k] - e) <= scale * (2e-3 + 1e-4 * Math.Abs(boxes[i * 4 + k])), $"box {i}.{k}: {mine[k]} vs {e}");
            }
            var row = ids.AsSpan(i * l, l).ToArray().Select(v => (int)v).ToArray();
            Assert.Equal(row.Take(d.Tokens.Count), d.Tokens);
            Assert.Equal(1, d.Tokens[^1]);
        }
        Assert.True(scores.Skip(counted).All(s => s <= 0), "the dropped slots are the −1 / 0 ones");
    }
}
