namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// FPN level assignment of the RoI head (errata E6): level = clip(floor(4 + log2(√area / 224 + 1e-8)), min, max) on the
/// clipped proposal, and the box in that level's coordinates (divided by 2^level, exact in float32).
/// </summary>
public static class RoiLevels
{
    /// <summary>Levels (3..7 for P3..P7) and the boxes divided by their level's stride.</summary>
    public static (int[] Levels, float[] LevelBoxes) Assign(ReadOnlySpan<float> boxes, BoxDecoderConfig cfg)
    {
        int n = boxes.Length / 4;
        var levels = new int[n];
        var scaled = new float[boxes.Length];
        for (int i = 0; i < n; i++)
        {
            var b = boxes.Slice(4 * i, 4);
            float area = (b[2] - b[0]) * (b[3] - b[1]);
            float level = MathF.Floor(4f + MathF.Log2(MathF.Sqrt(MathF.Max(area, 0f)) / 224f + 1e-8f));
            levels[i] = (int)Math.Clamp(level, cfg.MinLevel, cfg.MaxLevel);
            float stride = MathF.ScaleB(1f, levels[i]);
            for (int j = 0; j < 4; j++) scaled[4 * i + j] = b[j] / stride;
        }
        return (levels, scaled);
    }
}
