using System.Globalization;
using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>An axis-aligned box in image pixels, corners (X0, Y0) top-left and (X1, Y1) bottom-right (XYXY).</summary>
/// <param name="X0">Left edge.</param>
/// <param name="Y0">Top edge.</param>
/// <param name="X1">Right edge.</param>
/// <param name="Y1">Bottom edge.</param>
public readonly record struct Box(float X0, float Y0, float X1, float Y1)
{
    /// <summary>Width (X1 − X0).</summary>
    public float Width => X1 - X0;

    /// <summary>Height (Y1 − Y0).</summary>
    public float Height => Y1 - Y0;

    /// <summary>The whole image [0, 0, width, height] — the prompt of plain captioning and referring (spec §2.5).</summary>
    public static Box Whole(int width, int height) => new(0, 0, width, height);

    /// <summary>Parses "x0,y0,x1,y1" (invariant culture).</summary>
    /// <exception cref="InvalidInputException">Not four finite numbers.</exception>
    public static Box Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new float[4];
        if (parts.Length != 4 || !parts.Select((p, i) => float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) && float.IsFinite(values[i])).All(ok => ok))
            throw new InvalidInputException($"box '{text}': expected x0,y0,x1,y1 (four numbers)");
        return new Box(values[0], values[1], values[2], values[3]);
    }

    /// <summary>Checks the box is finite, non-degenerate (X0 &lt; X1, Y0 &lt; Y1) and inside a <paramref name="width"/> × <paramref name="height"/> image.</summary>
    /// <exception cref="InvalidInputException">With one line naming the box and the rule it breaks.</exception>
    public void Validate(int width, int height)
    {
        if (!(float.IsFinite(X0) && float.IsFinite(Y0) && float.IsFinite(X1) && float.IsFinite(Y1)))
            throw new InvalidInputException($"box {this}: coordinates must be finite");
        if (!(X0 < X1 && Y0 < Y1)) throw new InvalidInputException($"box {this}: degenerate, expected x0 < x1 and y0 < y1");
        if (X0 < 0 || Y0 < 0 || X1 > width || Y1 > height)
            throw new InvalidInputException($"box {this}: outside the {width}×{height} image");
    }

    /// <summary>This box with x scaled by <paramref name="sx"/> and y by <paramref name="sy"/>.</summary>
    internal Box Scale(double sx, double sy) => new((float)(X0 * sx), (float)(Y0 * sy), (float)(X1 * sx), (float)(Y1 * sy));

    /// <summary>"[x0, y0, x1, y1]" with invariant formatting.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"[{X0:g6}, {Y0:g6}, {X1:g6}, {Y1:g6}]");
}
