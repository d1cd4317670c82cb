using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>
/// Host-side resize to the model's eval size (spec §3.1 with errata A1/A2): scenic's <c>resize_shorter(canvas, max_size=canvas)</c>
/// — the longer side ends at about the canvas — then bilinear sampling with half-pixel centres and no antialias
/// (<c>tf.image.resize</c> bilinear), on float32 values: the result is not rounded back to bytes.
/// </summary>
internal static class EvalResize
{
    /// <summary>
    /// The (height, width) scenic's eval pipeline gives an image of (<paramref name="height"/>, <paramref name="width"/>):
    /// s = floor(canvas · short / long) (canvas for a square); unchanged when the short side already equals s (errata A1);
    /// else short → s and long → int(s · long / short), the 2024 form with a double division (errata A2).
    /// </summary>
    public static (int Height, int Width) Size(int height, int width, int canvas)
    {
        if (height < 1 || width < 1) throw new InvalidInputException($"image size {width}×{height} must be positive");
        double shortSide = Math.Min(height, width), longSide = Math.Max(height, width);
        int size = canvas;
        if (longSide / shortSide * size > canvas) size = (int)Math.Floor(canvas * shortSide / longSide);
        if ((width <= height && width == size) || (height <= width && height == size)) return (height, width);
        if (size < 1) throw new InvalidInputException($"image {width}×{height} is too elongated for a {canvas}×{canvas} canvas");
        return width < height ? ((int)(size * (double)height / width), size) : (size, (int)(size * (double)width / height));
    }

    /// <summary>RGB bytes (h, w, 3) → F32 (outH, outW, 3), bilinear with half-pixel centres, edge-clamped, no antialias.</summary>
    public static HostTensor Bilinear(ReadOnlySpan<byte> rgb, int height, int width, int outHeight, int outWidth)
    {
        var rows = Taps(height, outHeight);
        var cols = Taps(width, outWidth);
        var result = new float[outHeight * outWidth * 3];
        for (int y = 0; y < outHeight; y++)
        {
            var (y0, y1, fy) = rows[y];
            for (int x = 0; x < outWidth; x++)
            {
                var (x0, x1, fx) = cols[x];
                for (int c = 0; c < 3; c++)
                {
                    float top = Lerp(rgb[(y0 * width + x0) * 3 + c], rgb[(y0 * width + x1) * 3 + c], fx);
                    float bottom = Lerp(rgb[(y1 * width + x0) * 3 + c], rgb[(y1 * width + x1) * 3 + c], fx);
                    result[(y * outWidth + x) * 3 + c] = Lerp(top, bottom, fy);
                }
            }
        }
        return HostTensor.FromArray(result, outHeight, outWidth, 3);
    }

    private static float Lerp(float a, float b, float t) => a + (b - a) * t;

    /// <summary>TensorFlow's compute_interpolation_weights: in = (o + 0.5)·scale − 0.5, lower = max(floor, 0), upper = min(ceil, n − 1).</summary>
    private static (int Lower, int Upper, float Fraction)[] Taps(int inSize, int outSize)
    {
        float scale = (float)inSize / outSize;
        var taps = new (int, int, float)[outSize];
        for (int o = 0; o < outSize; o++)
        {
            float position = (o + 0.5f) * scale - 0.5f;
            float floor = MathF.Floor(position);
            taps[o] = (Math.Max((int)floor, 0), Math.Min((int)MathF.Ceiling(position), inSize - 1), position - floor);
        }
        return taps;
    }
}
