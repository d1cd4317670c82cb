namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// The RoI head's post-processing, every intermediate kept for tracing: per proposal the scores (background, object),
/// decoded clipped boxes and thresholded object score; the stable descending order; the NMS selection over that order;
/// then K slots: boxes (K × 4, XYXY canvas pixels), scores (−1: at or below the threshold, 0: padding), the proposal each
/// slot came from (−1: padding) and the count of scores &gt; 0.
/// </summary>
public sealed record Detections(float[] RoiScores, float[] DecodedBoxes, float[] ThresholdedScores, int[] SortedOrder, bool[] NmsSelected,
    float[] Boxes, float[] Scores, int[] ProposalIndex, int NumDetections)
{
    public int Slots => Scores.Length;
}

/// <summary>
/// scenic's <c>process_and_generate_detections</c> for one class-agnostic cascade stage (spec §7.1, errata E1, E2):
/// score = √(softmax(cls) · proposal score); deltas (dx, dy, dw, dh) / weights, dw/dh clipped at log(1000/16), decoded
/// around the input proposal, clipped to the canvas; scores ≤ threshold → −1 (kept); stable descending sort; padded NMS;
/// the first K selected (box 0 / score 0 beyond the selected count); a final stable descending sort of the K scores.
/// </summary>
public static class RoiDetectionSelection
{
    private static readonly float DeltaClip = (float)Math.Log(1000.0 / 16.0);

    /// <param name="classLogits">N × 2 (background, object).</param>
    /// <param name="deltas">N × 4 raw (dx, dy, dw, dh).</param>
    public static Detections Select(Proposals proposals, ReadOnlySpan<float> classLogits, ReadOnlySpan<float> deltas, BoxDecoderConfig cfg, int canvas)
    {
        int n = proposals.Count, k = cfg.NumDetections;
        var roiScores = new float[2 * n];
        var decoded = new float[4 * n];
        var thresholded = new float[n];
        for (int i = 0; i < n; i++)
        {
            float bg = classLogits[2 * i], obj = classLogits[2 * i + 1], max = MathF.Max(bg, obj);
            float eb = MathF.Exp(bg - max), eo = MathF.Exp(obj - max), sum = eb + eo;
            roiScores[2 * i] = MathF.Sqrt(eb / sum * proposals.Scores[i]);
            roiScores[2 * i + 1] = MathF.Sqrt(eo / sum * proposals.Scores[i]);
            Decode(proposals.Boxes.AsSpan(4 * i, 4), deltas.Slice(4 * i, 4), cfg.BoxDeltaWeights, canvas, decoded.AsSpan(4 * i, 4));
            thresholded[i] = roiScores[2 * i + 1] > cfg.RoiScoreThreshold ? roiScores[2 * i + 1] : -1f;
        }
        var order = StableDescending(thresholded);
        var sortedBoxes = order.SelectMany(i => decoded.AsSpan(4 * i, 4).ToArray()).ToArray();
        var selected = PaddedNms.Select(sortedBoxes, cfg.RoiNmsThreshold, k);
        var kept = PaddedNms.Keep(selected, k);

        var slotScores = new float[k];
        for (int s = 0; s < kept.Length; s++) slotScores[s] = thresholded[order[kept[s]]];
        var final = StableDescending(slotScores);
        var boxes = new float[4 * k];
        var scores = new float[k];
        var source = new int[k];
        for (int s = 0; s < k; s++)
        {
            int slot = final[s];
            scores[s] = slotScores[slot];
            source[s] = slot < kept.Length ? order[kept[slot]] : -1;
            if (source[s] >= 0) decoded.AsSpan(4 * source[s], 4).CopyTo(boxes.AsSpan(4 * s, 4));
        }
        return new Detections(roiScores, decoded, thresholded, order, selected, boxes, scores, source, scores.Count(v => v > 0));
    }

    /// <summary>Indices by descending value, ties to the lower index (lax.top_k).</summary>
    public static int[] StableDescending(float[] values) =>
        Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).ThenBy(i => i).ToArray();

    /// <summary>scenic's decode_boxes on the YXYX-reordered proposal and (dy, dx, dh, dw) deltas, then clip_boxes.</summary>
    private static void Decode(ReadOnlySpan<float> proposal, ReadOnlySpan<float> delta, IReadOnlyList<float> weights, int canvas, Span<float> box)
    {
        float dy = delta[1] / weights[0], dx = delta[0] / weights[1];
        float dh = MathF.Min(delta[3] / weights[2], DeltaClip), dw = MathF.Min(delta[2] / weights[3], DeltaClip);
        float h = proposal[3] - proposal[1], w = proposal[2] - proposal[0];
        float yc = proposal[1] + 0.5f * h, xc = proposal[0] + 0.5f * w;
        float cy = dy * h + yc, cx = dx * w + xc, hh = MathF.Exp(dh) * h, ww = MathF.Exp(dw) * w;
        float y0 = cy - 0.5f * hh, x0 = cx - 0.5f * ww;
        box[0] = Math.Clamp(x0, 0f, canvas);
        box[1] = Math.Clamp(y0, 0f, canvas);
        box[2] = Math.Clamp(x0 + ww, 0f, canvas);
        box[3] = Math.Clamp(y0 + hh, 0f, canvas);
    }
}
