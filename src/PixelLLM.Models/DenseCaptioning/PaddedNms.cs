namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// scenic's <c>non_max_suppression_padded</c> (the tiled TPU NMS, errata E4), transcribed tile by tile so ties behave as
/// scenic's do: boxes arrive sorted (scores are never read) and are padded with zero boxes to tiles of 256; each tile is
/// first cleared by the earlier tiles (a box survives when its IoU with every kept box of an earlier tile is &lt; threshold),
/// then by itself through the fixed point of <c>_self_suppression</c> (IoU ≥ threshold between a box and a later one, with
/// the hard-coded ≤ 0.5 tests); suppressed boxes become all-zero and suppress nothing. IoU = inter / (area_a + area_b −
/// inter + 1e-8) in float32 with unclamped areas. A box counts as selected when some coordinate is &gt; 0 afterwards
/// (an unsuppressed box with no positive coordinate is not selected but still suppresses). Tiles stop once
/// <c>maxOutput</c> boxes are selected. Equals greedy NMS for thresholds &gt; 0.5 (and for 0.5 away from exact ties).
/// </summary>
public static class PaddedNms
{
    public const int TileSize = 256;

    /// <summary>Which of the sorted boxes (N × 4, any corner order scenic uses) are selected.</summary>
    public static bool[] Select(ReadOnlySpan<float> boxes, float threshold, int maxOutput = int.MaxValue)
    {
        if (threshold < 0.5f) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the padded NMS equals greedy NMS only for thresholds ≥ 0.5");
        int n = boxes.Length / 4, tiles = (n + TileSize - 1) / TileSize;
        var b = new float[4 * tiles * TileSize];
        boxes[..(4 * n)].CopyTo(b);
        int selected = 0;
        for (int t = 0; t < tiles && selected < maxOutput; t++)
        {
            var tile = b.AsSpan(4 * t * TileSize, 4 * TileSize);
            for (int u = 0; u < t; u++) CrossSuppress(b.AsSpan(4 * u * TileSize, 4 * TileSize), tile, threshold);
            SelfSuppress(tile, threshold);
            for (int i = 0; i < TileSize; i++) if (Positive(tile.Slice(4 * i, 4))) selected++;
        }
        var result = new bool[n];
        for (int i = 0; i < n; i++) result[i] = Positive(b.AsSpan(4 * i, 4));
        return result;
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

    private static bool Positive(ReadOnlySpan<float> box) => box[0] > 0 || box[1] > 0 || box[2] > 0 || box[3] > 0;

    /// <summary><c>_cross_suppression</c>: zero the boxes of <paramref name="tile"/> that overlap a box of <paramref name="earlier"/>.</summary>
    private static void CrossSuppress(ReadOnlySpan<float> earlier, Span<float> tile, float threshold)
    {
        for (int j = 0; j < TileSize; j++)
            for (int i = 0; i < TileSize; i++)
                if (Iou(earlier.Slice(4 * i, 4), tile.Slice(4 * j, 4)) >= threshold)
                {
                    tile.Slice(4 * j, 4).Clear();
                    break;
                }
    }

    /// <summary>The diagonal tile's fixed point (<c>_suppression_loop_body</c> + <c>_self_suppression</c>).</summary>
    private static void SelfSuppress(Span<float> tile, float threshold)
    {
        const int T = TileSize;
        var iou = new float[T * T];   // iou[i, j], i < j, kept only where ≥ threshold
        for (int i = 0; i < T; i++)
            for (int j = i + 1; j < T; j++)
            {
                float v = Iou(tile.Slice(4 * i, 4), tile.Slice(4 * j, 4));
                iou[i * T + j] = v >= threshold ? v : 0f;
            }
        var canSuppress = new bool[T];
        var keepRow = new bool[T];
        float sum = Sum(iou);
        while (true)
        {
            for (int c = 0; c < T; c++) canSuppress[c] = ColumnMax(iou, c, null) <= 0.5f;
            for (int c = 0; c < T; c++) keepRow[c] = ColumnMax(iou, c, canSuppress) <= 0.5f;
            for (int r = 0; r < T; r++) if (!keepRow[r]) Array.Clear(iou, r * T, T);
            float next = Sum(iou);
            bool changed = sum - next > 0.5f;
            sum = next;
            if (!changed) break;
        }
        for (int c = 0; c < T; c++)
            if (ColumnMax(iou, c, null) > 0f) tile.Slice(4 * c, 4).Clear();
    }

    private static float ColumnMax(float[] iou, int column, bool[]? rowMask)
    {
        float max = 0f;
        for (int r = 0; r < TileSize; r++)
            if (rowMask is null || rowMask[r]) max = MathF.Max(max, iou[r * TileSize + column]);
        return max;
    }

    private static float Sum(float[] values)
    {
        float total = 0f;
        foreach (var v in values) total += v;
        return total;
    }
}
