using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>MlpOp on the CPU against the stack written out in float64: [LayerNorm] → (Linear → activation)* → Linear.</summary>
public class MlpOpTests
{
    [Theory]
    [InlineData(22, 64, new[] { 48, 48, 48, 8 }, true, UnaryKind.Gelu)] // the point head's shape (4 layers, pre-norm)
    [InlineData(5, 30, new[] { 17, 3 }, false, UnaryKind.Relu)]
    [InlineData(3, 16, new[] { 5 }, true, UnaryKind.Gelu)]               // one layer: no activation at all
    public void MatchesTheStackInFloat64(int rows, int d, int[] widths, bool preNorm, UnaryKind activation)
    {
        var rng = new Random(rows * 31 + d + widths.Length);
        var x = OpHarness.Random(rng, [rows, d]);
        var inputs = new List<HostTensor> { x };
        if (preNorm) inputs.AddRange([OpHarness.Random(rng, [d]), OpHarness.Random(rng, [d])]);
        int k = d;
        foreach (int n in widths)
        {
            inputs.AddRange([OpHarness.Random(rng, [n, k], 0.3f), OpHarness.Random(rng, [n])]);
            k = n;
        }
        var got = OpHarness.Run(new MlpOp(widths.Length, activation, preNorm, 1e-6f), [.. inputs]);

        var h = new double[rows][];
        var xs = OpHarness.AsDoubles(x);
        for (int r = 0; r < rows; r++)
        {
            h[r] = xs.AsSpan(r * d, d).ToArray();
            if (!preNorm) continue;
            double mean = h[r].Average(), variance = h[r].Select(v => (v - mean) * (v - mean)).Average();
            var (w, b) = (OpHarness.AsDoubles(inputs[1]), OpHarness.AsDoubles(inputs[2]));
            h[r] = h[r].Select((v, c) => (v - mean) / Math.Sqrt(variance + 1e-6) * w[c] + b[c]).ToArray();
        }
        int next = preNorm ? 3 : 1;
        for (int l = 0; l < widths.Length; l++, next += 2)
        {
            var (w, b) = (OpHarness.AsDoubles(inputs[next]), OpHarness.AsDoubles(inputs[next + 1]));
            int n = widths[l], kIn = h[0].Length;
            for (int r = 0; r < rows; r++)
                h[r] = Enumerable.Range(0, n).Select(o =>
                {
                    double v = b[o];
                    for (int c = 0; c < kIn; c++) v += w[o * kIn + c] * h[r][c];
                    return l == widths.Length - 1 ? v : Activate(v, activation);
                }).ToArray();
        }
        OpHarness.AssertClose(h.SelectMany(r => r).ToArray(), got, 1e-5, 1e-4);
    }

    private static double Activate(double v, UnaryKind kind) => kind switch
    {
        UnaryKind.Relu => Math.Max(v, 0),
        UnaryKind.Gelu => 0.5 * v * (1 + Erf(v / Math.Sqrt(2))),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>erf to 1e-12 by its Taylor series (|v| stays small here).</summary>
    private static double Erf(double v)
    {
        double sum = 0, term = v;
        for (int n = 0; n < 200; n++)
        {
            sum += term / (2 * n + 1);
            term *= -v * v / (n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    [Fact]
    public void RejectsALayerWhoseInputIsNotThePreviousWidth()
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 4, 10);
        Tensor W(string n, params int[] s) => g.Input(n, DType.F32, s);
        var e = Assert.Throws<GraphBuildException>(() => g.Mlp(x, [(W("w0", 6, 10), W("b0", 6)), (W("w1", 3, 7), W("b1", 3))], UnaryKind.Gelu));
        Assert.Contains("Linear", e.Message);
    }
}
