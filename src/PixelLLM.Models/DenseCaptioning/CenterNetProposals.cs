namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// The proposal stage's decisions, every intermediate kept for tracing: the top-k heat cells (flat index over the levels
/// concatenated P3 first, row-major), their sigmoid scores and unclipped XYXY boxes, the NMS selection over that list,
/// the kept list positions, and the RoI head's input boxes (clipped) and scores.
/// </summary>
public sealed record Proposals(int[] CandidateCells, float[] CandidateScores, float[] CandidateBoxes, bool[] NmsSelected,
    int[] Keep, float[] Boxes, float[] Scores)
{
    public int Count => Scores.Length;
}

/// <summary>
/// CenterNet proposals (spec §7.1, golden README step 4): cell centres (j·s + s//2, i·s + s//2); scores = sigmoid of every
/// level's heatmap; top-k with k = min(pre_nms_topk, cells − 1), ties to the lower index; box = centre ∓ (l, t, r, b)·s;
/// padded NMS on the unclipped boxes; the first post_nms_topk selected; then clipped to [0, canvas].
/// Beyond the selected count scenic's unmasked gather repeats the last candidate with score 0 (errata E3).
/// </summary>
public static class CenterNetProposals
{
    /// <summary>One level's head outputs: logits (h·w), regressions (h·w·4, l t r b), grid size and stride.</summary>
    public sealed record Level(float[] HeatmapLogits, float[] BoxRegs, int Height, int Width, int Stride);

    public static Proposals Select(IReadOnlyList<Level> levels, BoxDecoderConfig cfg, int canvas)
    {
        int cells = levels.Sum(l => l.Height * l.Width);
        var scores = new float[cells];
        int at = 0;
        foreach (var level in levels)
            foreach (var logit in level.HeatmapLogits) scores[at++] = 1f / (1f + MathF.Exp(-logit));

        int k = Math.Min(cfg.PreNmsTopK, cells - 1);
        var order = Enumerable.Range(0, cells).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(k).ToArray();
        var candidateBoxes = new float[4 * k];
        for (int c = 0; c < k; c++) CellBox(levels, order[c], candidateBoxes.AsSpan(4 * c, 4));

        var selected = PaddedNms.Select(candidateBoxes, cfg.ProposalNmsThreshold, cfg.PostNmsTopK);
        var kept = PaddedNms.Keep(selected, cfg.PostNmsTopK);
        var keep = new int[cfg.PostNmsTopK];
        var boxes = new float[4 * keep.Length];
        var keptScores = new float[keep.Length];
        for (int i = 0; i < keep.Length; i++)
        {
            // Past the selected count, scenic's gather index (padded length − 1) is clamped to the last candidate.
            keep[i] = i < kept.Length ? kept[i] : k - 1;
            keptScores[i] = i < kept.Length ? scores[order[keep[i]]] : 0f;
            for (int j = 0; j < 4; j++) boxes[4 * i + j] = Math.Clamp(candidateBoxes[4 * keep[i] + j], 0f, canvas);
        }
        return new Proposals(order, order.Select(i => scores[i]).ToArray(), candidateBoxes, selected, keep, boxes, keptScores);
    }

    private static void CellBox(IReadOnlyList<Level> levels, int cell, Span<float> box)
    {
        foreach (var level in levels)
        {
            int count = level.Height * level.Width;
            if (cell >= count) { cell -= count; continue; }
            int s = level.Stride;
            float x = cell % level.Width * s + s / 2, y = cell / level.Width * s + s / 2;
            var r = level.BoxRegs.AsSpan(4 * cell, 4);
            box[0] = x - r[0] * s;
            box[1] = y - r[1] * s;
            box[2] = x + r[2] * s;
            box[3] = y + r[3] * s;
            return;
        }
        throw new ArgumentOutOfRangeException(nameof(cell), cell, "cell beyond the pyramid");
    }
}
