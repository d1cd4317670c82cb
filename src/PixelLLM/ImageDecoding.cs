using PixelLLM.Runtime;
using SkiaSharp;

namespace PixelLLM;

/// <summary>PNG/JPEG → RGB bytes with SkiaSharp: header first (format, size, pixel limit), then a full decode that must complete.</summary>
internal static class ImageDecoding
{
    public static (byte[] Rgb, int Width, int Height) DecodeRgb(byte[] encoded, string source, long maxPixels)
    {
        if (encoded.Length == 0) throw new InvalidInputException($"{source}: empty file, expected a PNG or JPEG image");
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidInputException($"{source}: not a readable PNG or JPEG image");
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg))
            throw new InvalidInputException($"{source}: {codec.EncodedFormat} images are not supported (PNG or JPEG)");
        int width = codec.Info.Width, height = codec.Info.Height;
        if (width < 1 || height < 1) throw new InvalidInputException($"{source}: image header gives size {width}×{height}");
        PixelImage.RequireWithinLimit(source, width, height, maxPixels);

        // Unpremultiplied RGBA without colour-space conversion: the stored sample values, as the reference's decoder gives them.
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[(long)width * height * 4];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = rgba) result = codec.GetPixels(info, (IntPtr)p);
        }
        if (result != SKCodecResult.Success)
            throw new InvalidInputException($"{source}: image data is {(result == SKCodecResult.IncompleteInput ? "truncated" : "corrupt")} ({result})");
        var rgb = new byte[(long)width * height * 3];
        for (long i = 0, j = 0; i < rgba.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }
        return (rgb, width, height);
    }
}
