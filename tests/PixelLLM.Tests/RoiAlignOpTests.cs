using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>RoiAlignOp against a float64 transcription of scenic's einsum RoIAlign (errata E5) on odd shapes.</summary>
public class RoiAlignOpTests
{
    [Theory]
    [InlineData(7, 2, 3)]  // the box head's geometry
    [InlineData(3, 1, 5)]  // one sample per bin
    [InlineData(2, 3, 1)]  // three samples per bin, one channel
    public void MatchesAFloat64ReferenceAcrossLevelsAndBorders(int size, int samples, int channels)
    {
        var rng = new Random(size * 31 + samples);
        int[][] shapes = [[1, 9, 7, channels], [1, 5, 6, channels], [1, 2, 3, channels]];
        var maps = shapes.Select(s => OpHarness.Random(rng, s)).ToArray();
        float[] boxes =
        [
            1.3f, 2.2f, 5.9f, 7.4f,      // interior of map 0
            -0.8f, -0.6f, 3.1f, 2.9f,    // crosses the top-left border: taps at −1 are dropped, index 0 keeps its weight
            3.5f, 1.0f, 6.7f, 5.6f,      // crosses the bottom-right border of map 1
            0.2f, 0.1f, 2.6f, 1.8f,      // a tiny map
            2f, 2f, 2f, 4f,              // zero width: every column sample sits on x = 2
            1f, 1f, 3f, 3f,              // unknown map id → zeros
        ];
        int[] ids = [0, 0, 1, 2, 1, 7];
        var output = OpHarness.Run(new RoiAlignOp(size, samples), [HostTensor.FromArray(boxes, ids.Length, 4), HostTensor.FromArray(ids, ids.Length), .. maps]);
        Assert.Equal(new Shape(ids.Length, size, size, channels), output.Shape);
        var expected = new double[ids.Length * size * size * channels];
        for (int n = 0; n < ids.Length; n++)
        {
            if (ids[n] >= maps.Length) continue;
            var map = OpHarness.AsDoubles(maps[ids[n]]);
            int h = shapes[ids[n]][1], w = shapes[ids[n]][2];
            var rows = Weights(boxes[4 * n + 1], boxes[4 * n + 3], h, size, samples);
            var cols = Weights(boxes[4 * n], boxes[4 * n + 2], w, size, samples);
            for (int oy = 0; oy < size; oy++)
            for (int ox = 0; ox < size; ox++)
            for (int c = 0; c < channels; c++)
            {
                double sum = 0;
                for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) sum += rows[oy, y] * cols[ox, x] * map[(y * w + x) * channels + c];
                expected[((n * size + oy) * size + ox) * channels + c] = sum;
            }
        }
        OpHarness.AssertClose(expected, output, 1e-5, 1e-5);
    }

    [Fact]
    public void RejectsMismatchedInputs()
    {
        var g = new Graph();
        var boxes = g.Input("b", DType.F32, 3, 4);
        var ids = g.Input("i", DType.I32, 3);
        var a = g.Input("a", DType.F32, 1, 4, 4, 8);
        Assert.Throws<GraphBuildException>(() => g.RoiAlign(boxes, ids, [a, g.Input("c", DType.F32, 1, 2, 2, 4)], 7, 2));
        Assert.Throws<GraphBuildException>(() => g.RoiAlign(boxes, g.Input("j", DType.I32, 2), [a], 7, 2));
        Assert.Throws<GraphBuildException>(() => g.RoiAlign(g.Input("d", DType.F32, 3, 5), ids, [a], 7, 2));
        Assert.Throws<GraphBuildException>(() => g.RoiAlign(boxes, ids, [a], 0, 2));
    }

    /// <summary>(size, extent) 1-D interpolation matrix of scenic's _get_einsum_weights, in float64.</summary>
    private static double[,] Weights(double lo, double hi, int extent, int size, int samples)
    {
        var m = new double[size, extent];
        double scale = size * samples / (hi - lo);
        for (int o = 0; o < size; o++)
        for (int s = 0; s < samples; s++)
        {
            double at = (o * samples + s + 0.5) / scale + lo - 0.5, first = Math.Floor(at), upper = at - first;
            int index = (int)first;
            if (index >= 0 && index < extent) m[o, index] += (1 - upper) / samples;
            if (index + 1 >= 0 && index + 1 < extent) m[o, index + 1] += upper / samples;
        }
        return m;
    }
}
