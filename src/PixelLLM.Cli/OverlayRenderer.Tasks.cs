using System.Globalization;
using SkiaSharp;

namespace PixelLLM.Cli;

/// <summary>Overlays of the segmentation and dense-captioning results: a translucent mask with its box, labelled boxes with scores.</summary>
internal static partial class OverlayRenderer
{
    private static readonly SKColor MaskColour = new(255, 64, 160);

    /// <summary>
    /// Each mask translucent (magenta for one expression, a colour per expression for several), its referring box solid with
    /// the expression as its label.
    /// </summary>
    public static byte[] Segment(PixelImage image, IReadOnlyList<SegmentResult> results) =>
        RenderPlain(image, (canvas, font, scale) =>
        {
            for (int i = 0; i < results.Count; i++)
            {
                var result = results[i];
                var colour = results.Count == 1 ? MaskColour : SKColor.FromHsv(360f * i / results.Count, 75, 100);
                using (var mask = MaskBitmap(result.Mask, colour))
                using (var source = SKImage.FromBitmap(mask))
                    canvas.DrawImage(source, new SKRect(0, 0, image.Width * scale, image.Height * scale), new SKSamplingOptions(SKFilterMode.Nearest));
                if (result.Box is { } box)
                {
                    var r = Rect(box, scale);
                    using var solid = new SKPaint { Color = results.Count == 1 ? SKColors.Lime : colour, Style = SKPaintStyle.Stroke, StrokeWidth = 3, IsAntialias = true };
                    canvas.DrawRect(r, solid);
                    Label(canvas, font, result.Expression, r.Left, r.Top);
                }
            }
        }, results.SelectMany(result => new[]
        {
            $"\"{result.Expression}\"  IoU prediction {result.Iou.ToString("F3", CultureInfo.InvariantCulture)}", $"decoded: {result.Text}",
        }).ToList());

    /// <summary>Each counted detection's box in its own colour, labelled "score caption".</summary>
    public static byte[] DenseCaption(PixelImage image, DenseCaptionResults results) =>
        RenderPlain(image, (canvas, font, scale) =>
        {
            // Lowest score first, so the best detection's box and label end up on top.
            foreach (var d in results.Detections.Reverse())
            {
                var colour = SKColor.FromHsv(360f * d.Slot / Math.Max(1, results.Detections.Count), 80, 100);
                var r = Rect(d.Box, scale);
                using var stroke = new SKPaint { Color = colour, Style = SKPaintStyle.Stroke, StrokeWidth = 2.5f, IsAntialias = true };
                canvas.DrawRect(r, stroke);
                Label(canvas, font, string.Create(CultureInfo.InvariantCulture, $"{d.Score:F2} {d.Text}"), r.Left, r.Top, colour);
            }
        }, results.Detections.Count == 0 ? [$"no detection above the score threshold ({results.Slots} slots)"]
            : results.Detections.Select(d => string.Create(CultureInfo.InvariantCulture, $"{d.Slot}: {d.Score:F3} {d.Text}")).ToList());

    /// <summary>The image scaled up like the caption overlays, <paramref name="draw"/> over it, then plain grey text lines below.</summary>
    private static byte[] RenderPlain(PixelImage image, Action<SKCanvas, SKFont, float> draw, IReadOnlyList<string> lines)
    {
        float scale = Math.Max(1f, (float)TargetSide / Math.Max(image.Width, image.Height));
        int width = (int)MathF.Round(image.Width * scale), imageHeight = (int)MathF.Round(image.Height * scale);
        using var typeface = SKTypeface.FromFamilyName("DejaVu Sans") ?? SKTypeface.Default;
        using var font = new SKFont(typeface, 16);
        const int lineHeight = 22;
        int height = imageHeight + 8 + lines.Count * lineHeight + 8;
        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(new SKColor(24, 24, 24));
        using (var bitmap = ToBitmap(image))
        using (var source = SKImage.FromBitmap(bitmap))
            canvas.DrawImage(source, new SKRect(0, 0, width, imageHeight), new SKSamplingOptions(SKFilterMode.Linear));
        // Boxes may reach into the canvas padding past the image (densecap clips to the square canvas): keep them on the image.
        canvas.Save();
        canvas.ClipRect(new SKRect(0, 0, width, imageHeight));
        draw(canvas, font, scale);
        canvas.Restore();
        float y = imageHeight + 8 + 16;
        using var grey = new SKPaint { Color = new SKColor(220, 220, 220), IsAntialias = true };
        foreach (var line in lines)
        {
            canvas.DrawText(line.Length > 100 ? line[..97] + "..." : line, 8, y, font, grey);
            y += lineHeight;
        }
        using var snapshot = surface.Snapshot();
        using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    /// <summary>Inside pixels in <paramref name="colour"/> at 45 % opacity, outside fully transparent.</summary>
    private static SKBitmap MaskBitmap(BinaryMask mask, SKColor colour)
    {
        var bitmap = new SKBitmap(new SKImageInfo(mask.Width, mask.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var pixels = bitmap.GetPixelSpan();
        var inside = mask.Pixels;
        for (int i = 0; i < inside.Length; i++)
        {
            if (inside[i] == 0) continue;
            pixels[4 * i] = colour.Red;
            pixels[4 * i + 1] = colour.Green;
            pixels[4 * i + 2] = colour.Blue;
            pixels[4 * i + 3] = 115;
        }
        return bitmap;
    }
}
