using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>
/// An 8-bit RGB image in its original size. Decoded from PNG/JPEG (SkiaSharp; the header is read first and an image above the
/// pixel limit is refused before any pixel is decoded) or wrapped from raw RGB bytes. EXIF orientation is ignored, as the
/// reference's decoder does; an alpha channel is dropped (not composited). Immutable, so one image may serve many requests.
/// </summary>
public sealed class PixelImage
{
    /// <summary>Default limit on width × height for decoded images (40 megapixels).</summary>
    public const long DefaultMaxPixels = 40_000_000;

    private readonly byte[] rgb;

    private PixelImage(byte[] rgb, int width, int height, string source)
    {
        this.rgb = rgb;
        Width = width;
        Height = height;
        Source = source;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Where the image came from (a file path, or a short description), for messages.</summary>
    public string Source { get; }

    /// <summary>The pixels, row-major (height, width, 3).</summary>
    public ReadOnlySpan<byte> Rgb => rgb;

    /// <summary>Decodes a PNG or JPEG file.</summary>
    /// <exception cref="InvalidInputException">Unreadable, corrupt, truncated, not PNG/JPEG, or above <paramref name="maxPixels"/>.</exception>
    public static PixelImage Load(string path, long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (string.IsNullOrWhiteSpace(path)) throw new InvalidInputException("image path is empty, expected a PNG or JPEG file");
        FileKind.RequireRegularInput(path, "a PNG or JPEG file");
        byte[] bytes;
        try
        {
            // No PNG or JPEG within the pixel limit is this large (16-bit RGBA stored uncompressed is 8 bytes a pixel), so a
            // file padded past it is refused before it is read into memory.
            long length = new FileInfo(path).Length, most = (1L << 26) + 8 * Math.Max(maxPixels, 0);
            if (length > most) throw new InvalidInputException($"{path}: {length} bytes, more than any image of at most {maxPixels} pixels can take ({most})");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidInputException($"{path}: cannot read image ({e.Message})");
        }
        return Decode(bytes, path, maxPixels);
    }

    /// <summary>Decodes PNG or JPEG bytes; <paramref name="source"/> names them in error messages.</summary>
    /// <exception cref="InvalidInputException">Corrupt, truncated, not PNG/JPEG, or above <paramref name="maxPixels"/>.</exception>
    public static PixelImage Decode(byte[] encoded, string source = "image", long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var (pixels, width, height) = ImageDecoding.DecodeRgb(encoded, source, maxPixels);
        return new PixelImage(pixels, width, height, source);
    }

    /// <summary>Wraps raw RGB bytes (height × width × 3, row-major); the bytes are copied.</summary>
    /// <exception cref="InvalidInputException">The sizes are not positive or do not match the byte count.</exception>
    public static PixelImage FromRgb(ReadOnlySpan<byte> rgb, int width, int height, string source = "rgb")
    {
        RequirePositive(source, width, height);
        if ((long)width * height * 3 != rgb.Length)
            throw new InvalidInputException($"{source}: {rgb.Length} bytes do not hold a {width}×{height} RGB image ({(long)width * height * 3} expected)");
        return new PixelImage(rgb.ToArray(), width, height, source);
    }

    /// <summary>Copies <paramref name="height"/> rows of <paramref name="width"/> RGB pixels, <paramref name="stride"/> bytes apart, into an image of its own.</summary>
    internal static unsafe PixelImage CopyRows(byte* rgb, int width, int height, long stride, string source)
    {
        long row = 3L * width;
        var pixels = new byte[row * height];
        for (int y = 0; y < height; y++)
            new ReadOnlySpan<byte>(rgb + y * stride, (int)row).CopyTo(pixels.AsSpan((int)(y * row), (int)row));
        return new PixelImage(pixels, width, height, source);
    }

    internal static void RequirePositive(string source, int width, int height)
    {
        if (width < 1 || height < 1) throw new InvalidInputException($"{source}: image size {width}×{height} must be positive");
    }

    /// <summary>Refuses an image of more than <paramref name="maxPixels"/> pixels, naming <paramref name="source"/>.</summary>
    internal static void RequireWithinLimit(string source, int width, int height, long maxPixels)
    {
        if ((long)width * height > maxPixels)
            throw new InvalidInputException($"{source}: {width}×{height} = {(long)width * height} pixels is above the limit of {maxPixels}");
    }

    /// <summary>
    /// The model input for a canvas: U8 (h, w, 3) when the image already has its eval size (no resampling, errata A1),
    /// else the bilinear F32 resize of <see cref="EvalResize"/>.
    /// </summary>
    internal HostTensor ToEvalSize(int canvas)
    {
        var (h, w) = EvalResize.Size(Height, Width, canvas);
        return h == Height && w == Width ? HostTensor.FromArray((byte[])rgb.Clone(), h, w, 3) : EvalResize.Bilinear(rgb, Height, Width, h, w);
    }
}
