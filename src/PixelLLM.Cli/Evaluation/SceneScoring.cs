namespace PixelLLM.Cli.Evaluation;

/// <summary>How one model output is scored against one scene (eval.py's rules on the engine's outputs).</summary>
internal static class SceneScoring
{
    /// <summary>
    /// Token accuracy and trace hits of a caption teacher-forced on the scene's words: position i predicts token i + 1 (every
    /// target up to and including EOS counts); word w sits at position w + 1 and, when it names an object, its points' centre
    /// must fall in that object's mask (and, the box variant, its box).
    /// </summary>
    public static void Trace(EvalMetrics metrics, SyntheticScene scene, TeacherForcedCaption result)
    {
        if (result.Tokens.Length != scene.CaptionWords.Count + 2)
            throw new Runtime.InvalidInputException($"scenes[{scene.Index}].caption_words: {scene.CaptionWords.Count} words give " +
                $"{result.Tokens.Length - 2} tokens with this model's tokenizer (the trace needs one token per word)");
        for (int i = 0; i + 1 < result.Tokens.Length; i++) metrics.TokenAccuracy.Add(result.Predicted[i] == result.Tokens[i + 1]);
        var masks = new Dictionary<int, bool[]>();
        for (int w = 0; w < scene.TraceObject.Count; w++)
        {
            int obj = scene.TraceObject[w];
            if (obj < 0) continue;
            var centre = EvalMath.Centre(result.Points[w + 1]);
            if (!masks.TryGetValue(obj, out var mask)) masks[obj] = mask = scene.Mask(obj);
            metrics.TraceHit.Add(EvalMath.InMask(centre, mask, scene.Width, scene.Height));
            metrics.TraceBoxHit.Add(EvalMath.InBox(centre, scene.Objects[obj].Box));
        }
    }

    /// <summary>Referring P@0.5: a hit when the predicted box has IoU &gt; 0.5 with the object's box; no box is a miss.</summary>
    public static void Refer(EvalMetrics metrics, SyntheticScene scene, SceneReferral referral, Box? predicted) =>
        metrics.ReferHit.Add(predicted is { } box && EvalMath.BoxIou(box, scene.Objects[referral.Object].Box) > 0.5);

    /// <summary>
    /// Mask IoU at the EVAL size, as eval.py: the logits bilinearly upsampled from the grid to the canvas, cropped to the image's
    /// part, &gt; 0; against the object's mask bilinearly resized to the eval size, &gt; 0.5.
    /// </summary>
    public static void Mask(EvalMetrics metrics, SyntheticScene scene, SceneReferral referral, TeacherForcedSegment result)
    {
        var predicted = PredictedAtEvalSize(result);
        var truth = TruthAtEvalSize(scene, referral.Object, result.EvalHeight, result.EvalWidth);
        var (inter, union) = EvalMath.Overlap(predicted, truth);
        metrics.AddMask(inter, union);
    }

    /// <summary>The mask logits upsampled from the grid to the canvas, cropped to the eval-size image, &gt; 0 (row-major).</summary>
    public static bool[] PredictedAtEvalSize(TeacherForcedSegment result)
    {
        int w = result.EvalWidth, h = result.EvalHeight, canvas = result.Canvas;
        var logits = EvalMath.ResizeBilinear(result.Logits.Values.ToArray(), result.Logits.Height, result.Logits.Width, canvas, canvas);
        var predicted = new bool[h * w];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) predicted[y * w + x] = logits[y * canvas + x] > 0;
        return predicted;
    }

    /// <summary>Object <paramref name="index"/>'s mask as 0/1, bilinearly resized to the eval size, &gt; 0.5 (row-major).</summary>
    public static bool[] TruthAtEvalSize(SyntheticScene scene, int index, int evalHeight, int evalWidth)
    {
        var full = scene.Mask(index).Select(v => v ? 1f : 0f).ToArray();
        return EvalMath.ResizeBilinear(full, scene.Height, scene.Width, evalHeight, evalWidth).Select(v => v > 0.5f).ToArray();
    }
}
