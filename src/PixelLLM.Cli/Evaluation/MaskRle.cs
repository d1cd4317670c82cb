using PixelLLM.Runtime;

namespace PixelLLM.Cli.Evaluation;

/// <summary>
/// scenes.py's "mask_rle": run lengths over the row-major mask, alternating outside / inside and starting with an outside run
/// (0 when the first pixel is inside); the runs cover the image exactly.
/// </summary>
internal static class MaskRle
{
    /// <summary>Checks <paramref name="runs"/> without decoding them.</summary>
    /// <exception cref="InvalidInputException">A negative run, or runs that do not sum to width × height.</exception>
    public static void Validate(IReadOnlyList<int> runs, int width, int height, string field)
    {
        long total = 0;
        for (int i = 0; i < runs.Count; i++)
        {
            if (runs[i] < 0) throw new InvalidInputException($"{field}: run {i} is {runs[i]}, expected run lengths ≥ 0");
            total += runs[i];
        }
        if (total != (long)width * height)
            throw new InvalidInputException($"{field}: runs cover {total} pixels, expected {width}×{height} = {(long)width * height}");
    }

    /// <summary>The mask, row-major (height, width).</summary>
    /// <exception cref="InvalidInputException">As <see cref="Validate"/>.</exception>
    public static bool[] Decode(IReadOnlyList<int> runs, int width, int height, string field)
    {
        Validate(runs, width, height, field);
        var mask = new bool[width * height];
        int position = 0;
        for (int i = 0; i < runs.Count; i++)
        {
            if (i % 2 == 1) mask.AsSpan(position, runs[i]).Fill(true);
            position += runs[i];
        }
        return mask;
    }
}
