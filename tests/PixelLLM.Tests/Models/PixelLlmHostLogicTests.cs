using System.Text.Json;
using PixelLLM.Models;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;

namespace PixelLLM.Tests.Models;

/// <summary>The host-side rules of the PixelLLM pipeline, against definitions written out independently in each test.</summary>
public class PixelLlmHostLogicTests
{
    [Theory]
    [InlineData(new[] { 0, 5, 6, 1, 1, 1 }, new[] { 0, 5, 6, 1, 0, 0 })]
    [InlineData(new[] { 0, 1, 1, 1 }, new[] { 0, 1, 0, 0 })]
    [InlineData(new[] { 0, 4, 1, 0, 0 }, new[] { 0, 4, 1, 0, 0 })]        // teacher rows already padded
    [InlineData(new[] { 0, 0, 0 }, new[] { 0, 0, 0 })]                     // padding slot: no EOS at all
    [InlineData(new[] { 0, 7, 8, 9 }, new[] { 0, 7, 8, 9 })]               // never finished
    [InlineData(new[] { 0, 1, 7, 1, 8 }, new[] { 0, 1, 7, 0, 0 })]         // scenic's cumsum rule keeps a word between EOS
    public void ZeroAfterFirstEosFollowsScenic(int[] tokens, int[] expected) =>
        Assert.Equal(expected, PixelLlmTokens.ZeroAfterFirstEos(tokens, eos: 1));

    [Fact]
    public void DecoderMasksFollowTheShiftedTarget()
    {
        int[] tokens = [0, 5, 6, 1, 0, 0, /* row 2 */ 0, 9, 1, 1, 1, 1];
        bool[][] encoderValid = [[true, true, false], [true, false, true]];
        var (self, cross) = PixelLlmTokens.DecoderMasks(tokens, rows: 2, length: 6, encoderValid);
        var s = self.AsSpan<byte>().ToArray();
        var c = cross.AsSpan<byte>().ToArray();
        for (int r = 0; r < 2; r++)
            for (int q = 0; q < 6; q++)
            {
                bool targetQ = q < 5 && tokens[r * 6 + q + 1] > 0;
                for (int k = 0; k < 6; k++)
                {
                    bool targetK = k < 5 && tokens[r * 6 + k + 1] > 0;
                    Assert.Equal(k <= q && targetQ && targetK, s[(r * 6 + q) * 6 + k] == 1);
                }
                for (int k = 0; k < 3; k++) Assert.Equal(targetQ && encoderValid[r][k], c[(r * 6 + q) * 3 + k] == 1);
            }
        // Row 0 query 3 (input EOS, next 0) is fully masked in both: the reference makes it a uniform average.
        Assert.All(Enumerable.Range(0, 6), k => Assert.Equal(0, s[3 * 6 + k]));
    }

    [Fact]
    public void DecoderMasksShareAPromptAcrossBeams()
    {
        int[] tokens = [0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1];
        bool[][] encoderValid = [[true, false], [false, true]];
        var (_, cross) = PixelLlmTokens.DecoderMasks(tokens, rows: 4, length: 3, encoderValid, encoderRowDivisor: 2);
        var c = cross.AsSpan<byte>().ToArray();
        for (int r = 0; r < 4; r++) Assert.Equal(encoderValid[r / 2][1] ? 1 : 0, c[(r * 3 + 0) * 2 + 1]);
    }

    [Fact]
    public void EncoderValidityAndPairwiseMask()
    {
        var valid = PixelLlmTokens.EncoderValid([[3, 0, 7]], visualTokens: 2);
        Assert.Equal([true, true, true, false, true], valid[0]);
        var mask = PixelLlmTokens.PairwiseMask(valid).AsSpan<byte>().ToArray();
        for (int q = 0; q < 5; q++)
            for (int k = 0; k < 5; k++) Assert.Equal(valid[0][q] && valid[0][k] ? 1 : 0, mask[q * 5 + k]);
    }

    [Fact]
    public void TokenValidityTypes()
    {
        int[][] tokens = [[0, 5, 6, 1, 0, 0]];
        Assert.Equal([false, true, true, false, false, false], TokenValidity.Trace.Mask(tokens, 0, 1)[0]);
        Assert.Equal([false, false, true, false, false, false], TokenValidity.Referring.Mask(tokens, 0, 1)[0]);
        Assert.Equal([true, true, false, true, true, true], new TokenValidity("end-1").Mask(tokens, 0, 1)[0]);
        Assert.Equal([true, false, false, true, true, true], new TokenValidity("text").Mask(tokens, 0, 1)[0]);
        // BERT-style ids: begin (101) and pad (0) are different tokens (errata D10).
        Assert.Equal([false, true, false, false], TokenValidity.Trace.Mask([[101, 7, 102, 0]], 101, 102)[0]);
        Assert.Equal([true, true, false, true], new TokenValidity("end").Mask([[101, 7, 102, 0]], 101, 102)[0]);
        Assert.Throws<InvalidInputException>(() => new TokenValidity("begin,words").Mask(tokens, 0, 1));
    }

    [Fact]
    public void BoxesFromValidPointsAndTheInvertedBox()
    {
        // Two positions × two points: (x, y) pairs.
        float[] xy = [10, 20, 30, 5, /* position 1 */ 50, 60, 40, 70];
        Assert.Equal([10f, 5f, 30f, 20f], PointBoxes.Box(xy, [true, false], 2));
        Assert.Equal([10f, 5f, 50f, 70f], PointBoxes.Box(xy, [true, true], 2));
        // No valid point: min = max over all + 1, max = min over all − 1 (scenic points_to_boxes).
        Assert.Equal([51f, 71f, 9f, 4f], PointBoxes.Box(xy, [false, false], 2));

        float[] rel = [0.5f, 0.25f, 1f, 0f];
        PointBoxes.ToAbsolute(rel, height: 80, width: 120);
        Assert.Equal([60f, 20f, 120f, 0f], rel);
    }

    [Fact]
    public void BoxPromptsAndPaddingPromptsTakeDifferentPaths()
    {
        // G = [[1, 0], [0, 2]]: the encoding of pixel (x, y) on a canvas C is [sin(2π·u), sin(2π·2v), cos(2π·u), cos(2π·2v)],
        // u = 2(x/C) − 1, v = 2(y/C) − 1.
        var gaussian = HostTensor.FromArray(new float[] { 1, 0, 0, 2 }, 2, 2);
        var boxes = HostTensor.FromArray(new float[] { 10, 20, 30, 40, 0, 0, 0, 0 }, 2, 4);
        var tokens = PixelLlmPrompts.Encode(boxes, gaussian, canvas: 100, pointsPerSide: 2, withOffset: false);
        Assert.Equal(new Shape(2, 5, 4), tokens.Features.Shape);
        Assert.Equal([PixelLlmPrompts.SlotBoxTopLeft, PixelLlmPrompts.SlotBoxBottomRight, PixelLlmPrompts.SlotNoMask, PixelLlmPrompts.SlotNoMask,
            PixelLlmPrompts.SlotNoMask, PixelLlmPrompts.SlotForeground, PixelLlmPrompts.SlotForeground, PixelLlmPrompts.SlotForeground,
            PixelLlmPrompts.SlotForeground, PixelLlmPrompts.SlotNotAPoint], tokens.Slots.AsSpan<int>().ToArray());
        Assert.Equal([1, 0], tokens.BoxValid.AsSpan<byte>().ToArray());

        var f = tokens.Features.ToFloatArray();
        void Expect(int prompt, int token, double x, double y)
        {
            double u = 2 * (x / 100) - 1, v = 2 * (y / 100) - 1;
            double[] expected = [Math.Sin(2 * Math.PI * u), Math.Sin(2 * Math.PI * 2 * v), Math.Cos(2 * Math.PI * u), Math.Cos(2 * Math.PI * 2 * v)];
            for (int i = 0; i < 4; i++) Assert.True(Math.Abs(expected[i] - f[(prompt * 5 + token) * 4 + i]) < 1e-5, $"prompt {prompt} token {token} [{i}]");
        }
        Expect(0, 0, 10.5, 20.5);
        Expect(0, 1, 30.5, 40.5);
        for (int t = 0; t < 4; t++) Expect(1, t, 0.5, 0.5);                     // the zero box's 4 corners, shifted by 0.5
        Assert.All(Enumerable.Range(2 * 4, 3 * 4), i => Assert.Equal(0f, f[i]));   // no-mask tokens carry no Fourier term
        Assert.All(Enumerable.Range(9 * 4, 4), i => Assert.Equal(0f, f[i]));       // nor does the padding point
    }

    [Fact]
    public void SolidGridListsPointsRowMajorWithXFastest()
    {
        Assert.Equal([0f, 0f, 1f, 0f, 0f, 1f, 1f, 1f], PixelLlmPrompts.SolidGrid(2, withOffset: false));
        Assert.Equal([0.25f, 0.25f, 0.75f, 0.25f, 0.25f, 0.75f, 0.75f, 0.75f], PixelLlmPrompts.SolidGrid(2, withOffset: true));
        var three = PixelLlmPrompts.SolidGrid(3, withOffset: false);
        Assert.Equal([0f, 0.5f, 1f], new[] { three[0], three[2], three[4] });
        // One point a side: jnp.linspace's one value, its start; below one: the box's two corners.
        Assert.Equal([0f, 0f], PixelLlmPrompts.SolidGrid(1, withOffset: false));
        Assert.Equal([0.5f, 0.5f], PixelLlmPrompts.SolidGrid(1, withOffset: true));
        Assert.Equal([0f, 0f, 1f, 1f], PixelLlmPrompts.SolidGrid(0, withOffset: true));
        Assert.Equal([0f, 0f, 1f, 1f], PixelLlmPrompts.SolidGrid(-1, withOffset: false));
    }

    /// <summary>
    /// K + 1 tokens a prompt for K sampled points: with one point a side a box is exactly its two corner tokens (no no-mask
    /// padding) and a zero box its one point and the padding point; below one, three tokens (the corners and one no-mask).
    /// </summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(0, 2)]
    [InlineData(-1, 2)]
    [InlineData(3, 9)]
    public void PromptTokensFollowThePointCount(int pointsPerSide, int points)
    {
        var gaussian = HostTensor.FromArray(new float[] { 1, 0, 0, 2 }, 2, 2);
        var boxes = HostTensor.FromArray(new float[] { 10, 20, 30, 40, 0, 0, 0, 0 }, 2, 4);
        var tokens = PixelLlmPrompts.Encode(boxes, gaussian, canvas: 100, pointsPerSide, withOffset: false);
        Assert.Equal(points, PixelLlmPrompts.PointCount(pointsPerSide));
        Assert.Equal(new Shape(2, points + 1, 4), tokens.Features.Shape);
        var slots = tokens.Slots.AsSpan<int>().ToArray();
        Assert.Equal([PixelLlmPrompts.SlotBoxTopLeft, PixelLlmPrompts.SlotBoxBottomRight, .. Enumerable.Repeat(PixelLlmPrompts.SlotNoMask, points - 1)],
            slots[..(points + 1)]);
        Assert.Equal([.. Enumerable.Repeat(PixelLlmPrompts.SlotForeground, points), PixelLlmPrompts.SlotNotAPoint], slots[(points + 1)..]);
        Assert.All(tokens.Features.ToFloatArray(), v => Assert.False(float.IsNaN(v)));
    }

    [Fact]
    public void CaseToleranceRulesAreReadByName()
    {
        using var json = JsonDocument.Parse("""
            {"tolerance": {"rule": "text", "float_default": {"atol": 1e-4, "rtol": 1e-4},
             "point_coords_and_boxes_pixels": {"atol": 2e-3, "rtol": 1e-4},
             "tf_logits_and_log_probs": {"atol": 2e-4, "rtol": 1e-4}, "integers": "exact",
             "mask_logits": {"atol": 3e-4, "rtol": 1e-4}}}
            """);
        var rules = CaseTolerances.Read(json);
        Assert.Equal(new Tolerance(1e-4, 1e-4), rules.Default);
        Assert.Equal(2e-3, rules.For("out.teacher.point_coords").Atol);
        Assert.Equal(2e-3, rules.For("out.point_detection_boxes").Atol);
        Assert.Equal(2e-4, rules.For("mid.beam.tf_logits").Atol);
        Assert.Equal(2e-4, rules.For("out.beam_log_probs").Atol);
        Assert.Equal(1e-4, rules.For("out.point_logits").Atol);
        Assert.Equal(1e-4, rules.For("mid.text_feats").Atol);
        Assert.Equal(3e-4, rules.For("out.0.mask_logits").Atol);
        Assert.Equal(3e-4, rules.For("out.teacher.detection_masks").Atol);     // the referring-segmentation cases' mask logits
        Assert.Equal(1e-4, rules.For("mid.beam.mask_upscaled_embedding").Atol);
        using var listed = JsonDocument.Parse("""
            {"tolerance": {"float_default": {"atol": 1e-4, "rtol": 1e-4},
             "boxes_pixels": {"applies_to": ["mid.roi.decoded_boxes", "out.detection_boxes"], "atol": 2e-3, "rtol": 1e-4},
             "decision_gap_min": {"greedy_logprob": 0.005}}}
            """);
        var exact = CaseTolerances.Read(listed);
        Assert.Equal(2e-3, exact.For("out.detection_boxes").Atol);
        Assert.Equal(1e-4, exact.For("mid.proposals.boxes").Atol);            // an explicit list is not widened by suffix
        using var none = JsonDocument.Parse("{}");
        Assert.Equal(Tolerance.Default, CaseTolerances.Read(none).For("out.anything"));
    }

    [Fact]
    public void BeamSlotRuleExemptsOnlyUnflaggedNonBestBeams()
    {
        using var golden = Support.ScenicGolden.Open("referring");
        var rules = CaseTolerances.Read(golden.Json);
        var reference = golden.Input("out.beam.beam_text_tokens");
        var exempt = rules.ExemptBeamSlots(golden, "out.beam.beam_text_tokens", reference)!;
        var flags = golden.Input("out.beam.beam_finished_flags").ToFloatArray();
        int beams = reference.Shape[2], length = reference.Shape[3];
        for (int slot = 0; slot < flags.Length; slot++)
            Assert.Equal(flags[slot] == 0 && slot % beams != beams - 1, exempt[slot * length]);
        Assert.Contains(true, exempt);                                              // the unfinished prompt's fillers
        Assert.Null(rules.ExemptBeamSlots(golden, "out.beam.raw_text_tokens", golden.Input("out.beam.raw_text_tokens")));
    }
}
