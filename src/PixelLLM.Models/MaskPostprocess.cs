using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>
/// The refseg evaluator's mask post-processing (spec §7.2): the 4Hs×4Ws logits cover the whole canvas, so they are cropped to
/// the image's part <c>[0:int(h·4Hs/canvas), 0:int(w·4Ws/canvas)]</c>, resized to h×w with OpenCV's bilinear rule
/// (half-pixel centres, edge clamped) and thresholded at &gt; 0.
/// </summary>
public static class MaskPostprocess
{
    /// <summary>Logits F32 (4Hs, 4Ws) → U8 (height, width) mask of the image (1 = inside).</summary>
    public static HostTensor ToImageMask(HostTensor logits, int height, int width, int canvas)
    {
        if (logits.Shape.Rank != 2) throw new InvalidInputException($"mask logits must be (H, W), got {logits.Desc}");
        if (height < 1 || width < 1 || height > canvas || width > canvas)
            throw new InvalidInputException($"mask post-processing: image {height}×{width} does not fit the {canvas}² canvas");
        int gridH = logits.Shape[0], gridW = logits.Shape[1];
        // Integer arithmetic is exact where Python's int(h·96/384) truncates a float.
        int cropH = Math.Max(1, (int)((long)height * gridH / canvas)), cropW = Math.Max(1, (int)((long)width * gridW / canvas));
        var resized = ResizeBilinear(logits.ToFloatArray(), gridH, gridW, cropH, cropW, height, width);
        var mask = new byte[resized.Length];
        for (int i = 0; i < mask.Length; i++) mask[i] = (byte)(resized[i] > 0 ? 1 : 0);
        return HostTensor.FromArray(mask, height, width);
    }

    /// <summary>
    /// cv2.resize(INTER_LINEAR) of the top-left <paramref name="rows"/>×<paramref name="cols"/> block of a row-major
    /// <paramref name="stride"/>-wide map to <paramref name="outRows"/>×<paramref name="outCols"/>: source coordinate
    /// (d + 0.5)·in/out − 0.5, clamped to the block's edge.
    /// </summary>
    public static float[] ResizeBilinear(float[] source, int sourceRows, int stride, int rows, int cols, int outRows, int outCols)
    {
        if (rows > sourceRows || cols > stride || rows < 1 || cols < 1 || source.Length < sourceRows * stride)
            throw new ArgumentException($"resize: a {rows}×{cols} block of a {sourceRows}×{stride} map");
        var (y0, y1, wy) = Taps(rows, outRows);
        var (x0, x1, wx) = Taps(cols, outCols);
        var result = new float[outRows * outCols];
        for (int y = 0; y < outRows; y++)
            for (int x = 0; x < outCols; x++)
            {
                float top = source[y0[y] * stride + x0[x]] * (1 - wx[x]) + source[y0[y] * stride + x1[x]] * wx[x];
                float bottom = source[y1[y] * stride + x0[x]] * (1 - wx[x]) + source[y1[y] * stride + x1[x]] * wx[x];
                result[y * outCols + x] = top * (1 - wy[y]) + bottom * wy[y];
            }
        return result;
    }

    private static (int[] Low, int[] High, float[] Weight) Taps(int input, int output)
    {
        var low = new int[output];
        var high = new int[output];
        var weight = new float[output];
        double scale = (double)input / output;
        for (int d = 0; d < output; d++)
        {
            double f = (d + 0.5) * scale - 0.5;
            int s = (int)Math.Floor(f);
            double w = f - s;
            if (s < 0) (s, w) = (0, 0);
            if (s >= input - 1) (s, w) = (input - 1, 0);
            low[d] = s;
            high[d] = Math.Min(s + 1, input - 1);
            weight[d] = (float)w;
        }
        return (low, high, weight);
    }
}
