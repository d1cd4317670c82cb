using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>SwiGluNormOp on the CPU against silu(gate)·x then LayerNorm over the first Width columns, written out in float64.</summary>
public class SwiGluNormTests
{
    [Theory]
    [InlineData(4, 40, 0)]      // whole rows
    [InlineData(3, 2736, 2730)] // EVA02-L's padded hidden width: the padding normalised to zeros
    public void MatchesGateThenLayerNormInFloat64(int rows, int width, int normalised)
    {
        var rng = new Random(rows + width + normalised);
        int cols = normalised > 0 ? normalised : width;
        var gx = OpHarness.Random(rng, [rows, 2 * width], 2f);
        var (weight, bias) = (OpHarness.Random(rng, [cols]), OpHarness.Random(rng, [cols]));
        var got = OpHarness.Run(new SwiGluNormOp(1e-6f, normalised), gx, weight, bias);

        var (g, w, b) = (OpHarness.AsDoubles(gx), OpHarness.AsDoubles(weight), OpHarness.AsDoubles(bias));
        var expected = new double[rows * width];
        for (int r = 0; r < rows; r++)
        {
            var h = Enumerable.Range(0, width).Select(c =>
            {
                double gate = g[r * 2 * width + c], x = g[r * 2 * width + width + c];
                return gate / (1 + Math.Exp(-gate)) * x;
            }).ToArray();
            double mean = h.Take(cols).Average(), variance = h.Take(cols).Select(v => (v - mean) * (v - mean)).Average();
            for (int c = 0; c < cols; c++) expected[r * width + c] = (h[c] - mean) / Math.Sqrt(variance + 1e-6) * w[c] + b[c];
        }
        OpHarness.AssertClose(expected, got, 1e-5, 1e-4);
    }
}
