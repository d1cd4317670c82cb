using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>Images placed on a batch of canvases: pixels (B, C, C, 3), padding masks (B, C, C, 1), each image's valid size.</summary>
public sealed record CanvasBatch(HostTensor Pixels, HostTensor PaddingMask, (int Height, int Width)[] Sizes)
{
    /// <summary>scenic's image_shape per image (B, 2): valid rows, valid columns.</summary>
    public HostTensor ImageShape => HostTensor.FromArray(Sizes.SelectMany(s => new float[] { s.Height, s.Width }).ToArray(), Sizes.Length, 2);
}

/// <summary>
/// Image preprocessing (spec §3.1–3.2). Host side: uint8 RGB → float32 without scaling, copied into the top-left of a
/// zero canvas, with a padding mask of ones on the image. In the graph, per backbone: (x − mean) / std, then × mask, so
/// padding is exactly 0. The image must already have its eval size (scenic's resize_shorter fixed point, errata A1).
/// </summary>
public static class ImagePreprocess
{
    /// <summary>
    /// Images on a batch of canvases (B, C, C, 3) / (B, C, C, 1). Each image is U8 (h, w, 3), or F32 (h, w, 3) on 0..255 —
    /// a resampled image keeps its float values, as the reference resizes after the float cast (spec §3.1); h and w ≤ canvas.
    /// </summary>
    public static CanvasBatch ToCanvases(IReadOnlyList<HostTensor> images, int canvas)
    {
        if (images.Count == 0) throw new InvalidInputException("no image to place on the canvas");
        // Written row by row straight into the tensors' own (zeroed) storage: no float copy of the image and no second
        // copy into the tensors — a 384² canvas is 2.4 MB that would otherwise be allocated and copied three times per request.
        var pixels = HostTensor.Zeros(DType.F32, images.Count, canvas, canvas, 3);
        var mask = HostTensor.Zeros(DType.F32, images.Count, canvas, canvas, 1);
        var sizes = new (int Height, int Width)[images.Count];
        int plane = canvas * canvas;
        for (int b = 0; b < images.Count; b++)
            sizes[b] = Place(images[b], canvas, pixels.AsSpan<float>().Slice(b * plane * 3, plane * 3), mask.AsSpan<float>().Slice(b * plane, plane));
        return new CanvasBatch(pixels, mask, sizes);
    }

    private static (int Height, int Width) Place(HostTensor image, int canvas, Span<float> values, Span<float> valid)
    {
        var s = image.Shape;
        if (image.DType is not (DType.U8 or DType.F32) || s.Rank != 3 || s[2] != 3)
            throw new InvalidInputException($"image must be U8 or F32 (height, width, 3) RGB, got {image.Desc}");
        int h = s[0], w = s[1];
        if (h < 1 || w < 1 || h > canvas || w > canvas)
            throw new InvalidInputException($"image {h}×{w} must be non-empty and fit the {canvas}×{canvas} canvas (resize it first)");
        int rowValues = w * 3;
        for (int y = 0; y < h; y++)
        {
            var row = values.Slice(y * canvas * 3, rowValues);
            if (image.DType == DType.U8)
            {
                var source = image.AsSpan<byte>().Slice(y * rowValues, rowValues);
                for (int i = 0; i < rowValues; i++) row[i] = source[i];
            }
            else image.AsSpan<float>().Slice(y * rowValues, rowValues).CopyTo(row);
            valid.Slice(y * canvas, w).Fill(1f);
        }
        return (h, w);
    }

    /// <summary>(pixels − mean) / std × mask for one backbone; mean/std are per channel on 0..255 pixels.</summary>
    public static Tensor Normalise(Graph g, Tensor pixels, Tensor paddingMask, IReadOnlyList<float> mean, IReadOnlyList<float> std, string name)
    {
        if (mean.Count != 3 || std.Count != 3) throw new GraphBuildException($"{name}: mean and std need 3 channels");
        var meanT = g.Weight($"aux.{name}.pixel_mean", HostTensor.FromArray(mean.ToArray(), 3));
        var stdT = g.Weight($"aux.{name}.pixel_std", HostTensor.FromArray(std.ToArray(), 3));
        return g.Mul(g.Div(g.Sub(pixels, meanT), stdT), paddingMask);
    }
}
