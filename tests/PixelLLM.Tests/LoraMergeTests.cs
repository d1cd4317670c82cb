using PixelLLM.Models;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class LoraMergeTests
{
    [Fact]
    public void MergedKernelEqualsUnmergedPath()
    {
        var rng = new Random(11);
        int tokens = 7, dIn = 37, dOut = 29, rank = 5;
        const float scale = 2f;
        var x = OpHarness.Random(rng, [tokens, dIn]);
        var kernel = OpHarness.Random(rng, [dIn, dOut]);
        var left = OpHarness.Random(rng, [dIn, rank]);
        var right = OpHarness.Random(rng, [rank, dOut]);

        // Unmerged, as the reference computes it: x·W + scale·(x·A)·B, all in graph ops.
        var unmerged = Run(g =>
        {
            var xs = g.Input("x", DType.F32, tokens, dIn);
            var w = g.Weight("w", kernel); var a = g.Weight("a", left); var b = g.Weight("b", right);
            return g.Add(g.MatMul(xs, w), g.MatMul(g.MatMul(xs, a), b, alpha: scale));
        }, x);
        var merged = LoraMerge.MergeKernel(kernel, left, right, scale);
        var viaMerged = Run(g => g.MatMul(g.Input("x", DType.F32, tokens, dIn), g.Weight("w", merged)), x);
        OpHarness.AssertClose(unmerged.ToFloatArray().Select(v => (double)v).ToArray(), viaMerged, 1e-5, 1e-5, "merged vs unmerged");

        // And against float64 arithmetic directly.
        var k = kernel.ToFloatArray(); var l = left.ToFloatArray(); var r = right.ToFloatArray(); var m = merged.ToFloatArray();
        for (int i = 0; i < dIn; i++)
            for (int j = 0; j < dOut; j++)
            {
                double expected = k[i * dOut + j];
                for (int q = 0; q < rank; q++) expected += scale * (double)l[i * rank + q] * r[q * dOut + j];
                Assert.True(Math.Abs(expected - m[i * dOut + j]) < 1e-5, $"W'[{i},{j}]");
            }
    }

    /// <summary>
    /// scenic's <c>*_lora_modules</c> picks the projections with LoRA factors ("q,v" in every PixelLLM config): with
    /// "q,k,v,o" the checklist expects factors on all four, and the key and out kernels merge like query and value.
    /// </summary>
    [Fact]
    public void LoraModulesChooseTheProjectionsWithFactors()
    {
        var json = Golden.CaseConfig("pixelllm", "caption_trace");
        json["t5"]!["lora_modules"] = "q,k,v,o";
        var config = Golden.ParseConfig(json);
        Assert.Equal(["query", "key", "value", "out"], config.LoraModules);
        var shapes = PixelLLM.Models.Checkpoints.ScenicParameterShapes.For(config);
        const string layer = "textual/t5_module/decoder/layers_1/encoder_decoder_attention/";
        int d = config.T5.DModel, inner = config.T5.Inner, rank = config.LoraRank;
        Assert.Equal([inner, rank], shapes[layer + "out/kernel_left_lora"]);
        Assert.Equal([rank, d], shapes[layer + "out/kernel_right_lora"]);
        Assert.Equal([d, rank], shapes[layer + "key/kernel_left_lora"]);

        var scenic = new PixelLLM.Runtime.Weights.RandomWeights(shapes, seed: 4);
        var weights = new PixelLLM.Models.Checkpoints.ScenicWeights(scenic, new PixelLLM.Models.Checkpoints.ScenicWeightsOptions(config.LoraScale, rank));
        weights.Validate(shapes);
        foreach (var proj in new[] { "out", "key" })
        {
            var engineName = weights.Names.Single(n => weights.SourcesOf(n).Contains(layer + proj + "/kernel"));
            Assert.Equal(3, weights.SourcesOf(engineName).Count);
            var merged = LoraMerge.MergeKernel(scenic.Get(layer + proj + "/kernel"), scenic.Get(layer + proj + "/kernel_left_lora"),
                scenic.Get(layer + proj + "/kernel_right_lora"), config.LoraScale);
            var expected = PixelLLM.Models.Checkpoints.LayoutTransforms.Transpose2d(merged).ToFloatArray();
            Assert.Equal(expected, weights.Get(engineName).ToFloatArray());
        }

        json["t5"]!["lora_modules"] = "q,x";
        var e = Assert.Throws<ModelFileException>(() => Golden.ParseConfig(json));
        Assert.Contains("lora_modules", e.Message);
    }

    [Fact]
    public void MismatchedShapesNameTheKernel()
    {
        var e = Assert.Throws<ModelFileException>(() => LoraMerge.MergeKernel(
            HostTensor.Zeros(DType.F32, 4, 6), HostTensor.Zeros(DType.F32, 5, 2), HostTensor.Zeros(DType.F32, 2, 6), 2f, "encoder/layers_0/attention/query"));
        Assert.Contains("encoder/layers_0/attention/query", e.Message);
    }

    private static HostTensor Run(Func<Graph, Tensor> build, HostTensor x)
    {
        var g = new Graph();
        g.Output("y", build(g));
        using var backend = new PixelLLM.Backends.Cpu.CpuBackend();
        using var exec = new PixelLLM.Runtime.Execution.GraphExecutor(g, backend);
        exec.SetInput("x", x);
        exec.Run();
        return exec.Fetch("y");
    }
}
