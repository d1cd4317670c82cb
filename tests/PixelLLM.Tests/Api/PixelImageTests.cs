using System.Buffers.Binary;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>Image decoding (SkiaSharp), the pixel limit checked on the header, and the eval-size rule of spec §3.1 / errata A1–A2.</summary>
public class PixelImageTests
{
    private static string Png(string caseName) => Path.Combine(TinyModel.GoldenDir, caseName + ".png");

    [Theory]
    [InlineData("caption_trace")]
    [InlineData("referring")]
    public void PngDecodesToTheGoldenPixels(string caseName)
    {
        using var golden = ScenicGolden.Open(caseName);
        var expected = golden.Input("in.image");
        var image = PixelImage.Load(Png(caseName));
        Assert.Equal((expected.Shape[0], expected.Shape[1]), (image.Height, image.Width));
        Assert.True(expected.Data.Span.SequenceEqual(image.Rgb));
    }

    [Fact]
    public void JpegDecodesCloseToItsSource()
    {
        // A smooth image (JPEG keeps it within a few levels) whose channels differ, so a channel mix-up would show.
        var rgb = new byte[96 * 64 * 3];
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 96; x++)
                (rgb[(y * 96 + x) * 3], rgb[(y * 96 + x) * 3 + 1], rgb[(y * 96 + x) * 3 + 2]) = ((byte)(x * 2), (byte)(y * 3), (byte)200);
        var source = PixelImage.FromRgb(rgb, 96, 64);
        using var bitmap = new SkiaSharp.SKBitmap(new SkiaSharp.SKImageInfo(source.Width, source.Height, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        for (int i = 0, j = 0; i < source.Rgb.Length; i += 3, j += 4)
        {
            source.Rgb.Slice(i, 3).CopyTo(pixels.Slice(j, 3));
            pixels[j + 3] = 255;
        }
        using var jpeg = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Jpeg, 95);
        var decoded = PixelImage.Decode(jpeg.ToArray(), "x.jpg");
        Assert.Equal((source.Width, source.Height), (decoded.Width, decoded.Height));
        double meanError = 0;
        for (int i = 0; i < source.Rgb.Length; i++) meanError += Math.Abs(source.Rgb[i] - decoded.Rgb[i]);
        meanError /= source.Rgb.Length;
        Assert.InRange(meanError, 0, 2);
    }

    [Fact]
    public void CorruptTruncatedAndForeignFilesAreInvalidInput()
    {
        var png = File.ReadAllBytes(Png("referring"));
        Assert.Contains("truncated", Assert.Throws<InvalidInputException>(() => PixelImage.Decode(png[..(png.Length / 2)], "half.png")).Message);
        Assert.Contains("not a readable", Assert.Throws<InvalidInputException>(() => PixelImage.Decode("plain text, not an image"u8.ToArray(), "x.txt")).Message);
        Assert.Contains("empty", Assert.Throws<InvalidInputException>(() => PixelImage.Decode([], "empty.png")).Message);
        Assert.Contains("cannot read", Assert.Throws<InvalidInputException>(() => PixelImage.Load("/nonexistent/image.png")).Message);
        var garbled = (byte[])png.Clone();
        for (int i = 100; i < garbled.Length - 20; i += 7) garbled[i] ^= 0x5A;
        var e = Assert.Throws<InvalidInputException>(() => PixelImage.Decode(garbled, "garbled.png"));
        Assert.StartsWith("garbled.png: ", e.Message);
    }

    [Fact]
    public void PixelLimitIsCheckedOnTheHeaderBeforeDecoding()
    {
        // A PNG claiming 100000 × 100000 pixels with a few bytes of image data: refused for its size, not as truncated.
        var header = new List<byte>([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, 100_000);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), 100_000);
        ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
        header.AddRange(Chunk("IHDR", ihdr));
        header.AddRange(Chunk("IDAT", [0x78, 0x9C, 0x03, 0x00]));
        header.AddRange(Chunk("IEND", []));
        var e = Assert.Throws<InvalidInputException>(() => PixelImage.Decode(header.ToArray(), "huge.png"));
        Assert.Contains("above the limit", e.Message);
        var png = File.ReadAllBytes(Png("referring"));
        Assert.Contains("above the limit", Assert.Throws<InvalidInputException>(() => PixelImage.Decode(png, "small.png", maxPixels: 1000)).Message);
        Assert.Equal(120, PixelImage.Decode(png, "ok.png", maxPixels: 120 * 98).Width);
    }

    private static byte[] Chunk(string type, byte[] data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    /// <summary>PNG's CRC-32 (polynomial 0xEDB88320) over chunk type and data.</summary>
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    [Fact]
    public void RawRgbMustMatchItsSize()
    {
        Assert.Equal(2, PixelImage.FromRgb(new byte[2 * 3 * 3], 2, 3).Width);
        Assert.Throws<InvalidInputException>(() => PixelImage.FromRgb(new byte[10], 2, 3));
        Assert.Throws<InvalidInputException>(() => PixelImage.FromRgb([], 0, 3));
    }

    [Theory]
    // Fixed points of resize_shorter(canvas, max_size=canvas) stay as they are (errata A1): the golden images.
    [InlineData(86, 119, 120, 86, 119)]
    [InlineData(98, 120, 120, 98, 120)]
    [InlineData(120, 70, 120, 120, 70)]
    // s = floor(canvas·short/long) becomes the short side, long = int(s·long/short) (2024 form, errata A2).
    [InlineData(480, 640, 384, 288, 384)]
    [InlineData(640, 480, 384, 384, 288)]
    [InlineData(500, 333, 384, 382, 255)] // long side truncates to 382, below the canvas (spec §3.1 "can come out as 383")
    [InlineData(50, 50, 120, 120, 120)]   // small squares are upscaled to the canvas
    [InlineData(384, 384, 384, 384, 384)]
    [InlineData(1000, 3000, 384, 128, 384)]
    public void EvalSizeFollowsScenicResizeShorter(int h, int w, int canvas, int eh, int ew) =>
        Assert.Equal((eh, ew), EvalResize.Size(h, w, canvas));

    [Fact]
    public void BilinearResizeUsesHalfPixelCentresWithoutAntialias()
    {
        // 2 → 4 columns: sample positions −0.25, 0.25, 0.75, 1.25 → clamped taps, weights 0, .25, .75, 0.
        var rgb = new byte[] { 0, 0, 0, 200, 100, 40 };
        var up = EvalResize.Bilinear(rgb, 1, 2, 1, 4).ToFloatArray();
        Assert.Equal([0, 0, 0, 50, 25, 10, 150, 75, 30, 200, 100, 40], up);
        // 4 → 2: positions 0.5 and 2.5 — plain averages of neighbours (no antialias widening).
        var row = new byte[] { 0, 0, 0, 100, 100, 100, 200, 200, 200, 40, 40, 40 };
        var down = EvalResize.Bilinear(row, 1, 4, 1, 2).ToFloatArray();
        Assert.Equal([50, 50, 50, 120, 120, 120], down);
    }

    [Fact]
    public void EvalSizeImageIsNotResampled()
    {
        var image = PixelImage.Load(Png("caption_trace"));
        var eval = image.ToEvalSize(120);
        Assert.Equal(DType.U8, eval.DType);
        Assert.True(eval.Data.Span.SequenceEqual(image.Rgb));
        var resized = image.ToEvalSize(384);
        Assert.Equal(DType.F32, resized.DType);
        Assert.Equal(EvalResize.Size(86, 119, 384), (resized.Shape[0], resized.Shape[1]));
    }
}
