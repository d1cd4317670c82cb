using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>
/// Which positions' points count (scenic <c>get_token_valid_mask</c>, spec §6.3): a comma list of token types to ignore —
/// <c>pad</c> (id 0), <c>begin</c>, <c>end</c>, <c>end-1</c> (the next token is EOS), <c>text</c> (real words) — with a
/// leading <c>^</c> inverting the result. Trace configs use "begin,end,pad"; referring "^end-1" (only the position that emits EOS).
/// </summary>
public sealed record TokenValidity(string IgnoreTypes)
{
    public static TokenValidity Trace { get; } = new("begin,end,pad");
    public static TokenValidity Referring { get; } = new("^end-1");

    /// <summary>Valid mask (rows, L) for token rows (the decoder input after <see cref="PixelLlmTokens.ZeroAfterFirstEos"/>).</summary>
    public bool[][] Mask(int[][] tokens, int beginId, int endId)
    {
        bool negate = IgnoreTypes.StartsWith('^');
        var types = (negate ? IgnoreTypes[1..] : IgnoreTypes).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (var t in types)
            if (t is not ("pad" or "begin" or "end" or "end-1" or "text"))
                throw new InvalidInputException($"point_output_ignore: unknown token type '{t}' (pad, begin, end, end-1, text)");
        return tokens.Select(row =>
        {
            var valid = new bool[row.Length];
            for (int i = 0; i < row.Length; i++)
            {
                int token = row[i], next = i + 1 < row.Length ? row[i + 1] : 0;
                bool v = true;
                if (types.Contains("pad")) v &= token > 0;
                if (types.Contains("begin")) v &= token != beginId;
                if (types.Contains("end")) v &= token != endId;
                if (types.Contains("end-1")) v &= next != endId;
                if (types.Contains("text")) v &= token == beginId || token == endId || token == 0;
                valid[i] = negate ? !v : v;
            }
            return valid;
        }).ToArray();
    }
}

/// <summary>Point-head post-processing on the host (scenic <c>points_to_absolute</c> and <c>decode_boxes_from_points</c>, spec §6.4).</summary>
public static class PointBoxes
{
    /// <summary>Relative (x, y) pairs → pixels: x · valid width, y · valid height (not the canvas), in place.</summary>
    public static void ToAbsolute(Span<float> xy, int height, int width)
    {
        for (int i = 0; i + 1 < xy.Length; i += 2)
        {
            xy[i] *= width;
            xy[i + 1] *= height;
        }
    }

    /// <summary>
    /// XYXY box of the valid points of one prompt: <paramref name="xy"/> holds L·P points, <paramref name="valid"/> one flag
    /// per position (shared by its P points). As scenic, invalid points are replaced by (max + 1) for the minimum and
    /// (min − 1) for the maximum over ALL points, so a prompt without valid points gets an inverted box.
    /// </summary>
    public static float[] Box(ReadOnlySpan<float> xy, ReadOnlySpan<bool> valid, int pointsPerPosition)
    {
        int count = xy.Length / 2;
        if (count == 0 || valid.Length * pointsPerPosition != count)
            throw new ArgumentException($"{count} points do not match {valid.Length} positions × {pointsPerPosition}");
        float minX = float.PositiveInfinity, minY = float.PositiveInfinity, maxX = float.NegativeInfinity, maxY = float.NegativeInfinity;
        for (int i = 0; i < count; i++)
        {
            minX = MathF.Min(minX, xy[2 * i]); maxX = MathF.Max(maxX, xy[2 * i]);
            minY = MathF.Min(minY, xy[2 * i + 1]); maxY = MathF.Max(maxY, xy[2 * i + 1]);
        }
        float[] box = [float.PositiveInfinity, float.PositiveInfinity, float.NegativeInfinity, float.NegativeInfinity];
        for (int i = 0; i < count; i++)
        {
            bool ok = valid[i / pointsPerPosition];
            float x = xy[2 * i], y = xy[2 * i + 1];
            box[0] = MathF.Min(box[0], ok ? x : maxX + 1);
            box[1] = MathF.Min(box[1], ok ? y : maxY + 1);
            box[2] = MathF.Max(box[2], ok ? x : minX - 1);
            box[3] = MathF.Max(box[3], ok ? y : minY - 1);
        }
        return box;
    }
}
