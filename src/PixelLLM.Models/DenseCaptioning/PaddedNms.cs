namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// scenic's <c>non_max_suppression_padded</c> (the tiled TPU NMS, errata E4) as the greedy pass it equals for thresholds
/// ≥ 0.5: boxes arrive sorted (scores are never read); box j is suppressed when an earlier unsuppressed box i has
/// IoU(i, j) ≥ threshold, IoU = inter / (area_i + area_j − inter + 1e-8) in float32 with unclamped areas; an unsuppressed
/// box still suppresses later ones but counts as selected only if some coordinate is &gt; 0.
/// </summary>
public static class PaddedNms
{
    /// <summary>Which of the sorted boxes (N × 4, any corner order scenic uses) are selected.</summary>
    public static bool[] Select(ReadOnlySpan<float> boxes, float threshold)
    {
        if (threshold < 0.5f) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the padded NMS equals greedy NMS only for thresholds ≥ 0.5");
        int n = boxes.Length / 4;
        var alive = new bool[n];
        Array.Fill(alive, true);
        for (int i = 0; i < n; i++)
        {
            if (!alive[i]) continue;
            var a = boxes.Slice(4 * i, 4);
            for (int j = i + 1; j < n; j++)
                if (alive[j] && Iou(a, boxes.Slice(4 * j, 4)) >= threshold) alive[j] = false;
        }
        var selected = new bool[n];
        for (int i = 0; i < n; i++)
        {
            var b = boxes.Slice(4 * i, 4);
            selected[i] = alive[i] && (b[0] > 0 || b[1] > 0 || b[2] > 0 || b[3] > 0);
        }
        return selected;
    }

    /// <summary>Positions of the first <paramref name="max"/> selected boxes, in list order.</summary>
    public static int[] Keep(bool[] selected, int max) =>
        Enumerable.Range(0, selected.Length).Where(i => selected[i]).Take(max).ToArray();

    /// <summary>scenic's <c>_bbox_overlap</c> for one pair, float32.</summary>
    public static float Iou(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float inter = MathF.Max(MathF.Min(a[2], b[2]) - MathF.Max(a[0], b[0]), 0f) * MathF.Max(MathF.Min(a[3], b[3]) - MathF.Max(a[1], b[1]), 0f);
        float areaA = (a[2] - a[0]) * (a[3] - a[1]), areaB = (b[2] - b[0]) * (b[3] - b[1]);
        return inter / (areaA + areaB - inter + 1e-8f);
    }
}
