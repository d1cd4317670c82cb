using CsCheck;
using PixelLLM.Models.DenseCaptioning;

namespace PixelLLM.Tests.Properties;

/// <summary>
/// The padded (tiled) NMS on random clustered box lists, up to two tiles: the kept boxes are a subset of the input in its
/// (score) order, no two overlap at IoU ≥ t, every dropped box overlaps an earlier kept one at IoU ≥ t (greedy), running
/// it again on its own output keeps everything, and a cap on the output keeps the same first boxes.
/// </summary>
public class NmsProperties
{
    /// <summary>Boxes around a few centres (so many overlap), every coordinate positive, x1 &gt; x0 and y1 &gt; y0.</summary>
    private static float[] Boxes(Random rng, int count)
    {
        var centres = Enumerable.Range(0, 1 + rng.Next(6)).Select(_ => (X: 20 + 200 * rng.NextSingle(), Y: 20 + 200 * rng.NextSingle())).ToArray();
        var boxes = new float[4 * count];
        for (int i = 0; i < count; i++)
        {
            var (x, y) = centres[rng.Next(centres.Length)];
            float w = 2 + 30 * rng.NextSingle(), h = 2 + 30 * rng.NextSingle();
            float x0 = MathF.Max(0.5f, x + 8 * (rng.NextSingle() - 0.5f)), y0 = MathF.Max(0.5f, y + 8 * (rng.NextSingle() - 0.5f));
            // Some exact duplicates: IoU 1 with an earlier box.
            if (i > 0 && rng.Next(10) == 0) { Array.Copy(boxes, 4 * rng.Next(i), boxes, 4 * i, 4); continue; }
            (boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]) = (x0, y0, x0 + w, y0 + h);
        }
        return boxes;
    }

    private static float Iou(float[] boxes, int a, int b) => PaddedNms.Iou(boxes.AsSpan(4 * a, 4), boxes.AsSpan(4 * b, 4));

    [Fact]
    public void KeptBoxesAreAnOrderedNonOverlappingMaximalSubsetAndNmsIsIdempotent()
    {
        var cases = Gen.Select(Gen.Int[1, 2 * PaddedNms.TileSize + 20], Gen.Float[0.51f, 0.95f], Gen.Int[0, 1_000_000]);
        cases.Sample((count, threshold, seed) =>
        {
            var boxes = Boxes(new Random(seed), count);
            var kept = PaddedNms.Keep(PaddedNms.Select(boxes, threshold), int.MaxValue);

            Assert.NotEmpty(kept);
            Assert.Equal(0, kept[0]); // the best-scored box always survives
            for (int i = 1; i < kept.Length; i++) Assert.True(kept[i - 1] < kept[i], "kept boxes leave the input order");
            Assert.All(kept, k => Assert.InRange(k, 0, count - 1));
            for (int i = 0; i < kept.Length; i++)
                for (int j = i + 1; j < kept.Length; j++)
                    Assert.True(Iou(boxes, kept[i], kept[j]) < threshold, $"kept {kept[i]} and {kept[j]} overlap at IoU {Iou(boxes, kept[i], kept[j])} ≥ {threshold}");
            var keptSet = kept.ToHashSet();
            for (int d = 0; d < count; d++)
                if (!keptSet.Contains(d))
                    Assert.True(kept.Any(k => k < d && Iou(boxes, k, d) >= threshold), $"box {d} was dropped though no earlier kept box overlaps it");

            var again = kept.SelectMany(k => boxes.AsSpan(4 * k, 4).ToArray()).ToArray();
            Assert.Equal(Enumerable.Range(0, kept.Length), PaddedNms.Keep(PaddedNms.Select(again, threshold), int.MaxValue));

            int cap = 1 + seed % Math.Max(1, kept.Length);
            Assert.Equal(kept.Take(cap), PaddedNms.Keep(PaddedNms.Select(boxes, threshold, cap), cap));
        }, iter: 40, threads: 1);
    }
}
