using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>The point head's structure (pre-LN, Dense stack, (points, 3 + classes) split, (raw + 1)·0.5) against float64.</summary>
public class PointHeadTests
{
    [Fact]
    public void MatchesANaiveFloat64Head()
    {
        // Odd sizes; ReLU keeps the float64 reference free of an erf implementation (GELU is covered by the goldens).
        var cfg = new PointHeadConfig(Depth: 3, HiddenDim: 7, NumOutputPoints: 3, NumClasses: 2, PreNorm: true, Activation: UnaryKind.Relu);
        int rows = 5, d = 9;
        var rng = new Random(3);
        var w = new Dictionary<string, HostTensor>
        {
            ["norm.weight"] = OpHarness.Random(rng, [d]), ["norm.bias"] = OpHarness.Random(rng, [d]),
            ["layers.0.weight"] = OpHarness.Random(rng, [7, d]), ["layers.0.bias"] = OpHarness.Random(rng, [7]),
            ["layers.1.weight"] = OpHarness.Random(rng, [7, 7]), ["layers.1.bias"] = OpHarness.Random(rng, [7]),
            ["layers.2.weight"] = OpHarness.Random(rng, [cfg.OutputDim, 7]), ["layers.2.bias"] = OpHarness.Random(rng, [cfg.OutputDim]),
        };
        var x = OpHarness.Random(rng, [1, rows, d]);
        var g = new Graph();
        var (coords, logits) = PointHead.Build(new ParamScope(g, new DictionaryWeights(w)), cfg, g.Input("x", DType.F32, 1, rows, d));
        Assert.Equal(new Shape(1, rows, 3, 2), coords.Shape);
        Assert.Equal(new Shape(1, rows, 3, 3), logits.Shape);
        g.Output("coords", coords);
        g.Output("logits", logits);
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("x", x);
        exec.Run();
        var c = exec.FetchFloats("coords");
        var l = exec.FetchFloats("logits");

        var xs = OpHarness.AsDoubles(x);
        for (int r = 0; r < rows; r++)
        {
            var h = xs.Skip(r * d).Take(d).ToArray();
            double mean = h.Average(), variance = h.Select(v => (v - mean) * (v - mean)).Average();
            var gamma = OpHarness.AsDoubles(w["norm.weight"]);
            var beta = OpHarness.AsDoubles(w["norm.bias"]);
            h = h.Select((v, i) => (v - mean) / Math.Sqrt(variance + 1e-6) * gamma[i] + beta[i]).ToArray();
            for (int layer = 0; layer < 3; layer++)
            {
                var wt = OpHarness.AsDoubles(w[$"layers.{layer}.weight"]);
                var b = OpHarness.AsDoubles(w[$"layers.{layer}.bias"]);
                int outDim = b.Length;
                var next = new double[outDim];
                for (int o = 0; o < outDim; o++)
                {
                    next[o] = b[o];
                    for (int i = 0; i < h.Length; i++) next[o] += wt[o * h.Length + i] * h[i];
                    if (layer < 2) next[o] = Math.Max(0, next[o]);
                }
                h = next;
            }
            for (int p = 0; p < 3; p++)
            {
                for (int k = 0; k < 2; k++) Assert.True(Math.Abs((h[p * 5 + k] + 1) * 0.5 - c[(r * 3 + p) * 2 + k]) < 1e-4, $"coord {r},{p},{k}");
                for (int k = 0; k < 3; k++) Assert.True(Math.Abs(h[p * 5 + 2 + k] - l[(r * 3 + p) * 3 + k]) < 1e-4, $"logit {r},{p},{k}");
            }
        }
    }

    [Fact]
    public void RejectsAHeadOfTheWrongWidth()
    {
        var cfg = new PointHeadConfig(Depth: 1, HiddenDim: 4, NumOutputPoints: 2);
        var w = new Dictionary<string, HostTensor>
        {
            ["norm.weight"] = HostTensor.Zeros(DType.F32, 3), ["norm.bias"] = HostTensor.Zeros(DType.F32, 3),
            ["layers.0.weight"] = HostTensor.Zeros(DType.F32, 6, 3), ["layers.0.bias"] = HostTensor.Zeros(DType.F32, 6),
        };
        var g = new Graph();
        var e = Assert.Throws<ModelFileException>(() => PointHead.Build(new ParamScope(g, new DictionaryWeights(w)), cfg, g.Input("x", DType.F32, 2, 3)));
        Assert.Contains("layers.0.weight", e.Message);
    }
}
