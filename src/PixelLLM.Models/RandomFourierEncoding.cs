using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>
/// SAM's random-Fourier positional encoding (PositionEmbeddingRandom), evaluated on the host: a position (u, v) in [0, 1]²
/// maps to [sin(2π·p), cos(2π·p)] with p = (2u − 1, 2v − 1)·G, G the (2, C/2) gaussian matrix. It depends only on prompt
/// coordinates, sizes and G, and the op set has no sine, so it is computed here. The arithmetic is float32 step by step
/// in the reference's order, because the reference itself runs it in float32.
/// </summary>
public static class RandomFourierEncoding
{
    /// <summary>Writes the encoding of the normalised position (<paramref name="u"/>, <paramref name="v"/>) into <paramref name="destination"/> (length 2·F).</summary>
    public static void Encode(ReadOnlySpan<float> gaussian, float u, float v, Span<float> destination)
    {
        int f = gaussian.Length / 2;
        if (destination.Length != 2 * f) throw new ArgumentException($"destination holds {destination.Length} values, the encoding has {2 * f}");
        float cu = 2f * u - 1f, cv = 2f * v - 1f;
        for (int j = 0; j < f; j++)
        {
            float projected = cu * gaussian[j] + cv * gaussian[f + j];
            float angle = 2f * MathF.PI * projected;
            destination[j] = MathF.Sin(angle);
            destination[f + j] = MathF.Cos(angle);
        }
    }

    /// <summary>Encoding of a point given in input-image pixels (x, y), normalised by the input size (height, width).</summary>
    public static void EncodePixel(ReadOnlySpan<float> gaussian, float x, float y, int inputHeight, int inputWidth, Span<float> destination) =>
        Encode(gaussian, x / inputWidth, y / inputHeight, destination);

    /// <summary>
    /// The dense encoding of an h×w grid (get_dense_pe): cell centres ((j + 0.5)/w, (i + 0.5)/h), channels-last (1, h, w, C).
    /// </summary>
    public static HostTensor Grid(HostTensor gaussian, int height, int width)
    {
        var g = CheckGaussian(gaussian);
        int c = g.Length;
        var values = new float[height * width * c];
        for (int i = 0; i < height; i++)
            for (int j = 0; j < width; j++)
                Encode(g, (j + 0.5f) / width, (i + 0.5f) / height, values.AsSpan((i * width + j) * c, c));
        return HostTensor.FromArray(values, 1, height, width, c);
    }

    /// <summary>The matrix G as float32, checked to be (2, F).</summary>
    public static float[] CheckGaussian(HostTensor gaussian)
    {
        if (gaussian.Shape.Rank != 2 || gaussian.Shape[0] != 2)
            throw new ModelFileException($"positional_encoding_gaussian_matrix must be (2, F), got {gaussian.Desc}");
        return gaussian.ToFloatArray();
    }
}
