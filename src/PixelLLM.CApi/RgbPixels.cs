using PixelLLM.Runtime;

namespace PixelLLM.CApi;

/// <summary>The caller's decoded pixels, checked and copied into a <see cref="PixelImage"/> before the request runs.</summary>
internal static unsafe class RgbPixels
{
    /// <param name="rgb">the first row's first pixel: R, G, B bytes per pixel.</param>
    /// <param name="width">pixels per row.</param>
    /// <param name="height">rows.</param>
    /// <param name="strideBytes">bytes from one row's start to the next; 0 means packed (3 · width).</param>
    /// <param name="maxPixels">the model's pixel limit.</param>
    public static PixelImage Copy(byte* rgb, int width, int height, int strideBytes, long maxPixels)
    {
        if (rgb == null) throw new InvalidInputException("rgb: missing (NULL)");
        PixelImage.RequirePositive("rgb", width, height);
        PixelImage.RequireWithinLimit("rgb", width, height, maxPixels);
        long row = 3L * width, stride = strideBytes == 0 ? row : strideBytes;
        if (stride < row) throw new InvalidInputException($"rgb: stride_bytes {strideBytes} is less than a row of {width} RGB pixels ({row} bytes)");
        return PixelImage.CopyRows(rgb, width, height, stride, "rgb");
    }
}
