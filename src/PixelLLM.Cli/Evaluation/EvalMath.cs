namespace PixelLLM.Cli.Evaluation;

/// <summary>
/// The geometry of weights-tools/trainer/eval.py, one function per rule. Points and boxes come in ORIGINAL image pixels
/// (eval.py works in eval-size pixels; both scale x and y alike, so hits and IoUs agree up to float rounding).
/// </summary>
internal static class EvalMath
{
    /// <summary>The centre of a position's points (eval.py: <c>coords.mean(2)</c>, the mean of the two box corners).</summary>
    public static TracePoint Centre(IReadOnlyList<TracePoint> points)
    {
        if (points.Count == 0) throw new ArgumentException("no points", nameof(points));
        double x = 0, y = 0;
        foreach (var p in points) (x, y) = (x + p.X, y + p.Y);
        return new TracePoint((float)(x / points.Count), (float)(y / points.Count));
    }

    /// <summary>Whether the point is inside the box, edges included (eval.py's trace box hit).</summary>
    public static bool InBox(TracePoint p, Box box) => box.X0 <= p.X && p.X <= box.X1 && box.Y0 <= p.Y && p.Y <= box.Y1;

    /// <summary>Whether the pixel (floor x, floor y) is inside the image and set in the row-major mask (eval.py's trace hit).</summary>
    public static bool InMask(TracePoint p, bool[] mask, int width, int height)
    {
        double x = Math.Floor((double)p.X), y = Math.Floor((double)p.Y);
        return x >= 0 && y >= 0 && x < width && y < height && mask[(int)y * width + (int)x];
    }

    /// <summary>IoU of two XYXY boxes with eval.py's clamps: negative extents count as 0, the union at least 1e-6.</summary>
    public static double BoxIou(Box a, Box b)
    {
        double ix = Math.Max(0, Math.Min(a.X1, b.X1) - Math.Max(a.X0, b.X0));
        double iy = Math.Max(0, Math.Min(a.Y1, b.Y1) - Math.Max(a.Y0, b.Y0));
        double inter = ix * iy;
        static double Area(Box x) => Math.Max(0, x.X1 - x.X0) * (double)Math.Max(0, x.Y1 - x.Y0);
        return inter / Math.Max(Area(a) + Area(b) - inter, 1e-6);
    }

    /// <summary>Intersection and union pixel counts of two equally sized masks.</summary>
    public static (long Intersection, long Union) Overlap(bool[] a, bool[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"masks of {a.Length} and {b.Length} pixels");
        long inter = 0, union = 0;
        for (int i = 0; i < a.Length; i++)
        {
            inter += a[i] && b[i] ? 1 : 0;
            union += a[i] || b[i] ? 1 : 0;
        }
        return (inter, union);
    }

    /// <summary>Per-mask IoU as eval.py counts it: two empty masks agree perfectly (1).</summary>
    public static double MaskIou(long intersection, long union) => union == 0 ? 1.0 : (double)intersection / union;

    /// <summary>
    /// Bilinear resize of a row-major (height, width) map, torch <c>F.interpolate(mode="bilinear", align_corners=False)</c>
    /// without antialias: source = (o + 0.5)·in/out − 0.5 clamped at 0, the upper tap clamped at the last row/column.
    /// </summary>
    public static float[] ResizeBilinear(ReadOnlySpan<float> source, int height, int width, int outHeight, int outWidth)
    {
        if (source.Length != height * width) throw new ArgumentException($"{source.Length} values for {height}×{width}");
        var rows = Taps(height, outHeight);
        var cols = Taps(width, outWidth);
        var result = new float[outHeight * outWidth];
        for (int y = 0; y < outHeight; y++)
        {
            var (y0, y1, fy) = rows[y];
            for (int x = 0; x < outWidth; x++)
            {
                var (x0, x1, fx) = cols[x];
                float top = (1 - fx) * source[y0 * width + x0] + fx * source[y0 * width + x1];
                float bottom = (1 - fx) * source[y1 * width + x0] + fx * source[y1 * width + x1];
                result[y * outWidth + x] = (1 - fy) * top + fy * bottom;
            }
        }
        return result;
    }

    private static (int Lower, int Upper, float Fraction)[] Taps(int inSize, int outSize)
    {
        float scale = (float)inSize / outSize;
        var taps = new (int, int, float)[outSize];
        for (int o = 0; o < outSize; o++)
        {
            float position = Math.Max((o + 0.5f) * scale - 0.5f, 0f);
            int lower = Math.Min((int)position, inSize - 1);
            int upper = lower < inSize - 1 ? lower + 1 : lower;
            taps[o] = (lower, upper, position - lower);
        }
        return taps;
    }
}
