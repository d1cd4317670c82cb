using PixelLLM.Models;
using PixelLLM.Runtime;

namespace PixelLLM.Tests;

/// <summary>The canvas: the image's values in the top-left (U8 widened exactly, F32 as is), zeros elsewhere, a mask of ones on the image.</summary>
public class ImagePreprocessTests
{
    [Theory]
    [InlineData(DType.U8)]
    [InlineData(DType.F32)]
    public void ImageLandsTopLeftWithZeroPaddingAndAMaskOfOnes(DType dtype)
    {
        const int h = 5, w = 7, canvas = 9;
        var random = new Random(3);
        var bytes = Enumerable.Range(0, h * w * 3).Select(_ => (byte)random.Next(256)).ToArray();
        var image = dtype == DType.U8 ? HostTensor.FromArray(bytes, h, w, 3)
            : HostTensor.FromArray(bytes.Select(b => b + 0.25f).ToArray(), h, w, 3);
        var result = ImagePreprocess.ToCanvases([image], canvas);

        Assert.Equal((h, w), result.Sizes[0]);
        Assert.Equal(new Shape(1, canvas, canvas, 3), result.Pixels.Shape);
        var pixels = result.Pixels.ToFloatArray();
        var mask = result.PaddingMask.ToFloatArray();
        float offset = dtype == DType.U8 ? 0f : 0.25f;
        for (int y = 0; y < canvas; y++)
            for (int x = 0; x < canvas; x++)
            {
                bool inside = y < h && x < w;
                Assert.Equal(inside ? 1f : 0f, mask[y * canvas + x]);
                for (int c = 0; c < 3; c++)
                    Assert.Equal(inside ? bytes[(y * w + x) * 3 + c] + offset : 0f, pixels[(y * canvas + x) * 3 + c]);
            }
    }
}
