using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// T5's feed_forward_proj as Hugging Face reads it ("gated-" + activation; "gated-gelu" is the tanh GELU), each form
/// computed as x + wo(act(wi_0 n) · wi_1 n) or x + wo(act(wi n)) of n = RMSNorm(x) (checked in float64 on random
/// weights), and the cached decode step refusing the forms it does not run.
/// </summary>
public class T5FeedForwardTests
{
    [Theory]
    [InlineData("gated-gelu", true, UnaryKind.GeluTanh)]
    [InlineData("relu", false, UnaryKind.Relu)]
    [InlineData("gelu", false, UnaryKind.Gelu)]
    [InlineData("gated-gelu_new", true, UnaryKind.GeluTanh)]
    [InlineData("gated-silu", true, UnaryKind.Silu)]
    [InlineData("gated-relu", true, UnaryKind.Relu)]
    [InlineData("swish", false, UnaryKind.Silu)]
    public void ParsesHuggingFacesNames(string proj, bool gated, UnaryKind activation) =>
        Assert.Equal(new T5FeedForward(gated, activation), T5FeedForward.Parse(proj));

    [Theory]
    [InlineData("gated-gelu-x")]
    [InlineData("dense-relu")]
    [InlineData("gated-mish")]
    [InlineData("")]
    public void RejectsOthersByName(string proj)
    {
        var e = Assert.Throws<InvalidInputException>(() => T5FeedForward.Parse(proj));
        Assert.Contains($"'{proj}'", e.Message);
    }

    [Theory]
    [InlineData("relu")]
    [InlineData("gelu")]
    [InlineData("gated-silu")]
    [InlineData("gated-gelu")]
    public void ComputesTheBlockOfItsForm(string proj)
    {
        var c = new T5Config(VocabSize: 11, DModel: 12, DKv: 4, DFf: 17, NumHeads: 3, NumLayers: 1, NumDecoderLayers: 1)
        {
            FeedForward = T5FeedForward.Parse(proj),
        };
        var weights = T5TestModels.RandomWeights(c, seed: 3);
        var x = OpHarness.Random(new Random(4), [2, 5, c.DModel]);
        var g = new Graph();
        var input = g.Input("x", DType.F32, 2, 5, c.DModel);
        g.Output("y", T5.FeedForward(new ParamScope(g, weights).Sub("encoder.block.0.layer.1"), c, input));
        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("x", x);
        exec.Run();
        var y = exec.Fetch("y").ToFloatArray();

        string ff = "encoder.block.0.layer.1.DenseReluDense.";
        var norm = weights.Get("encoder.block.0.layer.1.layer_norm.weight").ToFloatArray();
        var xs = x.ToFloatArray();
        for (int row = 0; row < 10; row++)
        {
            var v = xs.AsSpan(row * c.DModel, c.DModel).ToArray();
            double meanSquare = v.Sum(e => (double)e * e) / c.DModel;
            var n = v.Select((e, i) => e / Math.Sqrt(meanSquare + c.Eps) * norm[i]).ToArray();
            double[] Project(string name, int outputs, double[] from) => Enumerable.Range(0, outputs)
                .Select(o => Enumerable.Range(0, from.Length).Sum(i => (double)weights.Get(ff + name).ToFloatArray()[o * from.Length + i] * from[i])).ToArray();
            double Act(double a) => c.FeedForward.Activation switch
            {
                UnaryKind.Relu => Math.Max(a, 0),
                UnaryKind.Gelu => 0.5 * a * (1 + Erf(a / Math.Sqrt(2))),
                UnaryKind.Silu => a / (1 + Math.Exp(-a)),
                _ => 0.5 * a * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (a + 0.044715 * a * a * a))),
            };
            var hidden = c.FeedForward.Gated
                ? Project("wi_0.weight", c.DFf, n).Zip(Project("wi_1.weight", c.DFf, n), (a, b) => Act(a) * b).ToArray()
                : Project("wi.weight", c.DFf, n).Select(Act).ToArray();
            var expected = Project("wo.weight", c.DModel, hidden).Select((o, i) => o + v[i]).ToArray();
            for (int i = 0; i < c.DModel; i++)
                Assert.True(Math.Abs(y[row * c.DModel + i] - expected[i]) <= 1e-5 + 1e-5 * Math.Abs(expected[i]),
                    $"{proj} row {row} [{i}]: {y[row * c.DModel + i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void TheCachedDecodeStepRefusesOtherForms()
    {
        var c = new T5Config(VocabSize: 11, DModel: 12, DKv: 4, DFf: 17, NumHeads: 3, NumLayers: 1, NumDecoderLayers: 1)
        {
            FeedForward = T5FeedForward.Parse("relu"),
        };
        var g = new Graph();
        var e = Assert.Throws<GraphBuildException>(() =>
            T5DecoderStep.Build(new ParamScope(g, T5TestModels.RandomWeights(c, seed: 1)), c, rows: 1, maxLength: 4, memoryLength: 3));
        Assert.Contains("gated-gelu", e.Message);
    }

    // Abramowitz–Stegun 7.1.26 is too coarse here; this series/continued-fraction pair is exact to ~1e-15.
    private static double Erf(double x)
    {
        double t = Math.Abs(x);
        if (t < 3)
        {
            double sum = 0, term = t;
            for (int k = 0; k < 60; k++)
            {
                sum += term / (2 * k + 1);
                term *= -t * t / (k + 1);
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        double f = 0;
        for (int k = 60; k >= 1; k--) f = k / 2.0 / (t + f);
        return Math.Sign(x) * (1 - Math.Exp(-t * t) / Math.Sqrt(Math.PI) / (t + f));
    }
}
