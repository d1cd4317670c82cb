using System.Text.Json;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.DenseCaptioning;
using PixelLLM.Runtime;

namespace PixelLLM.Tests.Models;

/// <summary>The box decoder's host-side rules (scenic semantics, errata E2–E6) and its config / checkpoint plumbing.</summary>
public class BoxDecoderHostTests
{
    private static readonly BoxDecoderConfig Tiny = new()
    {
        Strides = [8, 16], PreNmsTopK = 4, PostNmsTopK = 3, ProposalNmsThreshold = 0.9f, RoiNmsThreshold = 0.5f, NumDetections = 4,
    };

    [Fact]
    public void NmsSuppressesAtIouEqualToTheThreshold()
    {
        // IoU of box 1 with box 0 is exactly 0.5 (inter 50, union 100): ≥ suppresses, torchvision's > would keep it.
        float[] boxes = [0, 0, 10, 7.5f, 0, 2.5f, 10, 10, 20, 20, 30, 30];
        Assert.Equal([true, false, true], PaddedNms.Select(boxes, 0.5f));
        Assert.Equal([true, true, true], PaddedNms.Select(boxes, 0.51f));
    }

    [Fact]
    public void AnExactHalfIouTieFollowsScenicsTiledFixedPointNotGreedy()
    {
        // IoU(0, 1) = 0.5 exactly, IoU(1, 2) ≈ 0.71, IoU(0, 2) ≈ 0.32. Greedy keeps box 2 (box 1 is gone); scenic's
        // _self_suppression lets box 1 keep suppressing because its ≤ 0.5 test treats the 0.5 entry as no suppression.
        float[] boxes = [0, 0, 10, 7.5f, 0, 2.5f, 10, 10, 0, 4, 10, 11];
        Assert.Equal([true, false, false], PaddedNms.Select(boxes, 0.5f));
        Assert.Equal([true, true, false], PaddedNms.Select(boxes, 0.55f));   // above the tie: box 1 survives and suppresses box 2
    }

    [Fact]
    public void LaterTilesAreClearedByEarlierTilesAndStopOnceEnoughAreSelected()
    {
        // 300 boxes: tile 0 holds 256 disjoint boxes, tile 1 starts with a copy of box 0 (suppressed across tiles).
        var boxes = new float[4 * 300];
        for (int i = 0; i < 300; i++)
        {
            int cell = i < 256 ? i : i - 200;   // i ≥ 256 repeats boxes 56.. of tile 0
            if (i == 256) cell = 0;
            boxes[4 * i] = 1 + 20 * cell; boxes[4 * i + 1] = 1; boxes[4 * i + 2] = 11 + 20 * cell; boxes[4 * i + 3] = 11;
        }
        var all = PaddedNms.Select(boxes, 0.9f);
        Assert.Equal(256, all.Count(s => s));
        Assert.False(all[256]);
        var capped = PaddedNms.Select(boxes, 0.9f, maxOutput: 10);   // tile 1 is never processed: its boxes stay as they are
        Assert.True(capped[256]);
        Assert.Equal(Enumerable.Range(0, 10), PaddedNms.Keep(capped, 10));
    }

    [Fact]
    public void SuppressedBoxesDoNotSuppressAndNonPositiveBoxesAreNeverSelected()
    {
        float[] chain = [0, 0, 10, 10, 1, 0, 11, 10, 2, 0, 12, 10];   // 0 suppresses 1; 1 would suppress 2, but it is gone
        Assert.Equal([true, false, true], PaddedNms.Select(chain, 0.7f));
        float[] negative = [-10, -10, -1, -1, -10, -10, -1.5f, -1, 5, 5, 6, 6];  // no coordinate > 0: not selected, still suppresses
        Assert.Equal([false, false, true], PaddedNms.Select(negative, 0.8f));
        Assert.Throws<ArgumentOutOfRangeException>(() => PaddedNms.Select(chain, 0.3f));
    }

    [Fact]
    public void ProposalsKeepTiesInIndexOrderAndRepeatTheLastCandidateWhenNmsKeepsTooFew()
    {
        // Level 0: 2×2 cells; level 1: 1×1. Cells 0 and 1 tie; level-0 boxes are so large (ltrb 100 strides) that they
        // overlap with IoU 0.99, so NMS keeps one.
        var same = new float[] { 100, 100, 100, 100 };
        var levels = new[]
        {
            new CenterNetProposals.Level([2f, 2f, -1f, 0.5f], [.. same, .. same, .. same, .. same], 2, 2, 8),
            new CenterNetProposals.Level([-3f], [.. same], 1, 1, 16),
        };
        var p = CenterNetProposals.Select(levels, Tiny, canvas: 16);
        Assert.Equal([0, 1, 3, 2], p.CandidateCells);                      // k = min(4, 5 − 1), ties → lower index
        Assert.Equal([4f - 800, 4f - 800, 4f + 800, 4f + 800], p.CandidateBoxes[..4]); // centre (s//2) ∓ ltrb·s, unclipped
        Assert.Equal([true, false, false, false], p.NmsSelected);
        Assert.Equal([0, 3, 3], p.Keep);                                    // errata E3: clamped gather of the last candidate
        Assert.Equal([0f, 0f, 16f, 16f], p.Boxes[..4]);                      // clipped to the canvas
        Assert.Equal(0f, p.Scores[1]);
        Assert.Equal(0f, p.Scores[2]);
    }

    [Fact]
    public void DetectionSlotsPutPaddingBeforeMinusOneSlots()
    {
        // Three proposals far apart; one scores above the threshold, two below (−1). K = 4 > 3 selected → one padding slot.
        var proposals = new Proposals([], [], [], [], [], [0, 0, 10, 10, 50, 50, 60, 60, 100, 100, 110, 110], [0.9f, 0.001f, 0.002f]);
        float[] logits = [0, 5, 0, 0, 0, 0];
        var d = RoiDetectionSelection.Select(proposals, logits, new float[12], Tiny, canvas: 200);
        Assert.Equal([0, 1, 2], d.SortedOrder);                           // −1 scores keep proposal order (stable)
        Assert.Equal(-1f, d.ThresholdedScores[1]);
        Assert.Equal([0, -1, 1, 2], d.ProposalIndex);                     // positive, padding (0), then −1 slots
        Assert.Equal(0f, d.Scores[1]);
        Assert.Equal([0f, 0f, 0f, 0f], d.Boxes[4..8]);
        Assert.Equal([50f, 50f, 60f, 60f], d.Boxes[8..12]);              // −1 slots carry their real decoded boxes
        Assert.Equal(1, d.NumDetections);
        Assert.Equal(MathF.Sqrt(0.9f / (1 + MathF.Exp(-5))), d.Scores[0], 6);
    }

    [Fact]
    public void DeltasAreReadAsDxDyDwDh()
    {
        var proposals = new Proposals([], [], [], [], [], [10, 20, 30, 60], [1f]);
        var d = RoiDetectionSelection.Select(proposals, [0, 0], [10, 0, 0, 0], Tiny, canvas: 200); // dx = 1 box width
        Assert.Equal([30f, 20f, 50f, 60f], d.DecodedBoxes);
    }

    [Theory]
    [InlineData(111.9f, 3)]   // √area / 224 just below 0.5 → level 2.99… → clipped to 3
    [InlineData(224.5f, 4)]
    [InlineData(447.0f, 4)]
    [InlineData(449.0f, 5)]
    [InlineData(5000f, 5)]    // clipped to the max level of a two-level pyramid
    public void LevelsFollowTheFpnRule(float side, int level)
    {
        var cfg = Tiny with { Strides = [8, 16, 32] };
        var (levels, scaled) = RoiLevels.Assign([0, 0, side, side], cfg);
        Assert.Equal(level, levels[0]);
        Assert.Equal(side / (1 << level), scaled[2]);
    }

    [Fact]
    public void ConfigReadsTheBoxDecoderObject()
    {
        using var json = JsonDocument.Parse("""{"box_decoder": {"strides": [8, 16, 32, 64, 128], "pre_nms_topk_test": 24, "iou_thresh": 0.9, "roi_fc_dims": [32, 32], "roi_post_nms_num_detections": 8, "head_dim": 32}}""");
        var c = BoxDecoderConfigJson.Read(json.RootElement)!;
        Assert.Equal((24, 8, 32, 3, 7), (c.PreNmsTopK, c.NumDetections, c.HeadDim, c.MinLevel, c.MaxLevel));
        Assert.Equal(256, c.PostNmsTopK);   // scenic default
        using var none = JsonDocument.Parse("{}");
        Assert.Null(BoxDecoderConfigJson.Read(none.RootElement));
        using var bad = JsonDocument.Parse("""{"box_decoder": {"strides": [8, 24]}}""");
        Assert.Contains("strides", Assert.Throws<ModelFileException>(() => BoxDecoderConfigJson.Read(bad.RootElement)).Message);
        using var low = JsonDocument.Parse("""{"box_decoder": {"roi_nms_threshold": 0.3}}""");
        Assert.Throws<ModelFileException>(() => BoxDecoderConfigJson.Read(low.RootElement));
    }

    [Fact]
    public void ScenicNamesAndLayoutsOfTheBoxDecoder()
    {
        Assert.Equal(("box_decoder.fpn.simfp_3.0.weight", ScenicLayout.ConvTransposeKernel), Mapped("box_decoder/fpn/simfp_3.0/kernel"));
        Assert.Equal(("box_decoder.fpn.simfp_3.1.norm.weight", ScenicLayout.AsIs), Mapped("box_decoder/fpn/simfp_3.1.norm/scale"));
        Assert.Equal(("box_decoder.proposal_generator.bbox_tower.3.weight", ScenicLayout.ConvKernel), Mapped("box_decoder/proposal_generator/bbox_tower/3/kernel"));
        Assert.Equal(("box_decoder.proposal_generator.scales.2.weight", ScenicLayout.AsIs), Mapped("box_decoder/proposal_generator/scales.2/scale"));
        Assert.Equal(("box_decoder.roi_heads.box_head.0.fc1.weight", ScenicLayout.DenseKernel), Mapped("box_decoder/roi_heads/box_head.0/fc1/kernel"));
    }

    [Fact]
    public void ConvTransposeKernelIsFlippedIntoTorchLayout()
    {
        // Flax (kh, kw, in, out) = (2, 2, 1, 2): value = 10·(2y + x) + o.
        var flax = HostTensor.FromArray(Enumerable.Range(0, 8).Select(i => (float)(10 * (i / 2) + i % 2)).ToArray(), 2, 2, 1, 2);
        var torch = LayoutTransforms.ConvTransposeToTorch(flax).ToFloatArray();   // (in, out, kh, kw): W[0, o, a, b] = K[1 − a, 1 − b, 0, o]
        Assert.Equal([30f, 20f, 10f, 0f, 31f, 21f, 11f, 1f], torch);
    }

    [Fact]
    public void ParameterShapesCoverTheBoxDecoder()
    {
        var cfg = new BoxDecoderConfig { FpnInDim = 32, FpnOutChannels = 16, HeadDim = 32, RoiFcDims = [32, 32] };
        var s = new Dictionary<string, int[]>();
        ScenicBoxDecoderShapes.Add(s, cfg, 56);
        Assert.Equal(57, s.Count);   // 24 pyramid, 25 CenterNet head, 8 box head
        Assert.Equal([2, 2, 56, 16], s["box_decoder/fpn/simfp_3.0/kernel"]);
        Assert.Equal([784, 32], s["box_decoder/roi_heads/box_head.0/fc1/kernel"]);
        Assert.Equal([3, 3, 16, 32], s["box_decoder/proposal_generator/bbox_tower/0/kernel"]);
    }

    private static (string, ScenicLayout) Mapped(string path)
    {
        var m = ScenicNameMap.Map(path, _ => false)!;
        return (m.EngineName, m.Layout);
    }
}
