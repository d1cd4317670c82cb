using PixelLLM.Cli.Evaluation;
using PixelLLM.Runtime;

namespace PixelLLM.Tests.Evaluation;

/// <summary>Run-length masks and the per-scene scoring rules on constructed scenes and model outputs.</summary>
public sealed class SceneScoringTests
{
    [Fact]
    public void RleStartsWithAnOutsideRunThatMayBeEmpty()
    {
        Assert.Equal([true, true, false, false, false, true], MaskRle.Decode([0, 2, 3, 1], 3, 2, "m"));
        Assert.Equal([false, true, true, false, false, false], MaskRle.Decode([1, 2, 3], 3, 2, "m"));
        Assert.Equal(new bool[6], MaskRle.Decode([6], 3, 2, "m"));
    }

    [Theory]
    [InlineData(new[] { 1, 2, 2 }, "cover 5 pixels, expected 3×2 = 6")]
    [InlineData(new[] { 1, 2, 3, 1 }, "cover 7 pixels")]
    [InlineData(new[] { 4, -1, 3 }, "run 1 is -1")]
    [InlineData(new int[0], "cover 0 pixels")]
    public void MalformedRleIsATypedErrorNamingTheField(int[] runs, string expected)
    {
        var e = Assert.Throws<InvalidInputException>(() => MaskRle.Decode(runs, 3, 2, "scenes[0].objects[1].mask_rle"));
        Assert.StartsWith("scenes[0].objects[1].mask_rle: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    /// <summary>4×3 image; object 0 covers column 0 (box 0,0,1,3), object 1 the pixel (3, 2) (box 2,1,4,3, mask smaller than box).</summary>
    private static SyntheticScene Scene() => new(0, "x.png", 4, 3,
        [
            new SceneObject("square", "red", "small", new Box(0, 0, 1, 3), "a small red square", [0, 1, 3, 1, 3, 1, 3]),
            new SceneObject("circle", "blue", "small", new Box(2, 1, 4, 3), "a small blue circle", [11, 1]),
        ],
        "a red and b", ["a", "red", "and", "b"], [0, 0, -1, 1], [new SceneReferral(1, "the circle")]);

    private static TracePoint[] At(float x, float y) => [new TracePoint(x - 0.25f, y - 0.25f), new TracePoint(x + 0.25f, y + 0.25f)];

    [Fact]
    public void TraceScoresEveryTargetTokenAndEveryWordThatNamesAnObject()
    {
        var metrics = new EvalMetrics();
        // BOS a red and b EOS: predictions for a, red, and, b, EOS — the third ("and") is wrong.
        var result = new TeacherForcedCaption([0, 5, 6, 7, 8, 1], [5, 6, 9, 8, 1, 0],
            [At(0, 0), At(0.5f, 2.5f), At(2.5f, 1.5f), At(3, 3), At(3.5f, 2.5f), At(0, 0)]);
        SceneScoring.Trace(metrics, Scene(), result);
        Assert.Equal([true, true, false, true, true], metrics.TokenAccuracy);
        // word "a" → (0.5, 2.5) in object 0's mask; "red" → (2.5, 1.5) outside object 0 entirely; "b" → (3.5, 2.5) in object 1's mask.
        Assert.Equal([true, false, true], metrics.TraceHit);
        Assert.Equal([true, false, true], metrics.TraceBoxHit);

        // A point in object 1's box but not its mask: a box hit, a mask miss.
        var inBoxOnly = result with { Points = [At(0, 0), At(0.5f, 2.5f), At(0.5f, 0.5f), At(3, 3), At(2.5f, 1.5f), At(0, 0)] };
        var second = new EvalMetrics();
        SceneScoring.Trace(second, Scene(), inBoxOnly);
        Assert.Equal([true, true, false], second.TraceHit);
        Assert.Equal([true, true, true], second.TraceBoxHit);
    }

    [Fact]
    public void TraceRefusesACaptionWhoseWordsAreNotOneTokenEach()
    {
        var result = new TeacherForcedCaption([0, 5, 6, 1], [5, 6, 1, 0], [At(0, 0), At(0, 0), At(0, 0), At(0, 0)]);
        var e = Assert.Throws<InvalidInputException>(() => SceneScoring.Trace(new EvalMetrics(), Scene(), result));
        Assert.Contains("scenes[0].caption_words: 4 words give 2 tokens", e.Message);
    }

    [Fact]
    public void ReferringNeedsIouAboveOneHalfAndCountsAMissingBoxAsAMiss()
    {
        var metrics = new EvalMetrics();
        var scene = Scene();
        var referral = scene.Referrals[0]; // object 1, box (2, 1, 4, 3)
        SceneScoring.Refer(metrics, scene, referral, new Box(2, 1, 4, 3));
        SceneScoring.Refer(metrics, scene, referral, new Box(2, 1, 4, 2));     // IoU exactly 0.5
        SceneScoring.Refer(metrics, scene, referral, new Box(2, 1, 4, 2.1f));  // IoU 0.55
        SceneScoring.Refer(metrics, scene, referral, null);
        Assert.Equal([true, false, true, false], metrics.ReferHit);
    }

    [Fact]
    public void MaskIsScoredAtTheEvalSizeAgainstTheResizedTruth()
    {
        // Canvas 8, grid 4×4, eval size 4×3 (the scene's own size): logits positive only in grid cell (1, 1); torch's
        // bilinear upsample to 8×8 cropped to 3 rows × 4 columns is positive at (x 2, y 2) and (x 3, y 2) only.
        var logits = new float[16];
        Array.Fill(logits, -5f);
        logits[1 * 4 + 1] = 5f;
        var result = new TeacherForcedSegment(new Box(2, 1, 4, 3), new MaskLogits(4, 4, logits), 4, 3, 8);
        var predicted = SceneScoring.PredictedAtEvalSize(result);
        Assert.Equal(12, predicted.Length);
        Assert.Equal([false, false, false, false, false, false, false, false, false, false, true, true], predicted);
        Assert.Equal(Scene().Mask(1), SceneScoring.TruthAtEvalSize(Scene(), 1, 3, 4)); // same size: the mask itself
        var metrics = new EvalMetrics();
        SceneScoring.Mask(metrics, Scene(), Scene().Referrals[0], result);
        Assert.Equal(0.5, metrics.MaskIou.Single(), 12); // truth {(3, 2)}, prediction {(2, 2), (3, 2)}
        Assert.Equal((1L, 2L), (metrics.MaskIntersection, metrics.MaskUnion));
    }
}
