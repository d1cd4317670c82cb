using SkiaSharp;

namespace PixelLLM.Cli;

/// <summary>
/// Draws results over the image (paper Fig. 5 style): each valid token's trace box and the path through their centres in a
/// colour gradient along the caption (red → violet), the caption below in the same colours word by word, prompt boxes dashed,
/// the caption-level / referring box solid with its label. Small images are scaled up so the text stays legible.
/// </summary>
internal static partial class OverlayRenderer
{
    private const int TargetSide = 640;

    public static byte[] Caption(PixelImage image, IReadOnlyList<CaptionResult> results) =>
        Render(image, results.Select(r => new Drawn(r.Text, r.Tokens, r.PromptBox, r.TraceBox, results.Count > 1)).ToList());

    public static byte[] Refer(PixelImage image, IReadOnlyList<ReferResult> results) =>
        Render(image, results.Select(r => new Drawn(r.Expression, r.Tokens, null, r.Box, true)).ToList());

    private sealed record Drawn(string Text, IReadOnlyList<TraceToken> Tokens, Box? Prompt, Box? Box, bool LabelBox);

    private static byte[] Render(PixelImage image, IReadOnlyList<Drawn> items)
    {
        float scale = Math.Max(1f, (float)TargetSide / Math.Max(image.Width, image.Height));
        int width = (int)MathF.Round(image.Width * scale), imageHeight = (int)MathF.Round(image.Height * scale);
        using var typeface = SKTypeface.FromFamilyName("DejaVu Sans") ?? SKTypeface.Default;
        using var font = new SKFont(typeface, 16);
        var lines = items.SelectMany(item => Wrap(item, font, width - 16)).ToList();
        int lineHeight = 22, height = imageHeight + 8 + lines.Count * lineHeight + 8;

        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(new SKColor(24, 24, 24));
        using (var bitmap = ToBitmap(image))
        using (var source = SKImage.FromBitmap(bitmap))
            canvas.DrawImage(source, new SKRect(0, 0, width, imageHeight), new SKSamplingOptions(SKFilterMode.Linear));

        foreach (var item in items) DrawItem(canvas, font, item, scale);
        float y = imageHeight + 8 + 16;
        foreach (var line in lines)
        {
            float x = 8;
            foreach (var (text, colour) in line)
            {
                using var paint = new SKPaint { Color = colour, IsAntialias = true };
                canvas.DrawText(text, x, y, font, paint);
                x += font.MeasureText(text);
            }
            y += lineHeight;
        }
        using var snapshot = surface.Snapshot();
        using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    private static void DrawItem(SKCanvas canvas, SKFont font, Drawn item, float scale)
    {
        var valid = item.Tokens.Where(t => t.Valid && t.Points.Count > 0).ToList();
        SKPoint? previous = null;
        for (int k = 0; k < valid.Count; k++)
        {
            var colour = Gradient(k, valid.Count);
            var r = Rect(valid[k].Box, scale);
            using (var fill = new SKPaint { Color = colour.WithAlpha(40), Style = SKPaintStyle.Fill })
                canvas.DrawRect(r, fill);
            using (var stroke = new SKPaint { Color = colour.WithAlpha(200), Style = SKPaintStyle.Stroke, StrokeWidth = 1.5f, IsAntialias = true })
                canvas.DrawRect(r, stroke);
            var centre = new SKPoint(r.MidX, r.MidY);
            if (previous is { } p)
            {
                using var line = new SKPaint { StrokeWidth = 3, IsAntialias = true, Style = SKPaintStyle.Stroke,
                    Shader = SKShader.CreateLinearGradient(p, centre, [Gradient(k - 1, valid.Count), colour], SKShaderTileMode.Clamp) };
                canvas.DrawLine(p, centre, line);
            }
            previous = centre;
        }
        if (item.Prompt is { } prompt)
        {
            using var dashed = new SKPaint { Color = SKColors.White, Style = SKPaintStyle.Stroke, StrokeWidth = 2, IsAntialias = true,
                PathEffect = SKPathEffect.CreateDash([8, 6], 0) };
            canvas.DrawRect(Rect(prompt, scale), dashed);
        }
        if (item.Box is { } box)
        {
            var r = Rect(box, scale);
            using var solid = new SKPaint { Color = SKColors.Lime, Style = SKPaintStyle.Stroke, StrokeWidth = 3, IsAntialias = true };
            canvas.DrawRect(r, solid);
            if (item.LabelBox) Label(canvas, font, item.Text, r.Left, r.Top);
        }
    }

    private static void Label(SKCanvas canvas, SKFont font, string text, float x, float y, SKColor? colour = null)
    {
        if (text.Length > 60) text = text[..57] + "...";
        float w = font.MeasureText(text) + 8;
        float top = Math.Max(0, y - 22);
        using (var back = new SKPaint { Color = new SKColor(0, 0, 0, 170) }) canvas.DrawRect(new SKRect(x, top, x + w, top + 22), back);
        using var fore = new SKPaint { Color = colour ?? SKColors.Lime, IsAntialias = true };
        canvas.DrawText(text, x + 4, top + 16, font, fore);
    }

    /// <summary>The caption as lines of (text, colour): each valid word in its trace colour, other text grey.</summary>
    private static IEnumerable<List<(string, SKColor)>> Wrap(Drawn item, SKFont font, float maxWidth)
    {
        var valid = item.Tokens.Where(t => t.Valid && t.Points.Count > 0).ToList();
        var pieces = item.Tokens.Where(t => t.IsWord).Select(t =>
            (t.Piece, valid.IndexOf(t) is var k and >= 0 ? Gradient(k, valid.Count) : new SKColor(200, 200, 200))).ToList();
        if (pieces.Count == 0) pieces.Add((item.Text.Length > 0 ? item.Text : "(empty)", new SKColor(200, 200, 200)));
        var line = new List<(string, SKColor)>();
        float used = 0;
        foreach (var (text, colour) in pieces)
        {
            float w = font.MeasureText(text);
            if (used + w > maxWidth && line.Count > 0)
            {
                yield return line;
                (line, used) = (new List<(string, SKColor)>(), 0);
            }
            line.Add((text, colour));
            used += w;
        }
        yield return line;
    }

    /// <summary>Hue from red (first word) to violet (last word).</summary>
    private static SKColor Gradient(int index, int count) => SKColor.FromHsv(count <= 1 ? 0 : 270f * index / (count - 1), 90, 100);

    private static SKRect Rect(Box b, float scale) => new(b.X0 * scale, b.Y0 * scale, b.X1 * scale, b.Y1 * scale);

    private static SKBitmap ToBitmap(PixelImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgb = image.Rgb;
        var pixels = bitmap.GetPixelSpan();
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            pixels[j] = rgb[i];
            pixels[j + 1] = rgb[i + 1];
            pixels[j + 2] = rgb[i + 2];
            pixels[j + 3] = 255;
        }
        return bitmap;
    }
}
