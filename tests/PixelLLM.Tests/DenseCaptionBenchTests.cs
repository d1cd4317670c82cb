using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Cli;
using PixelLLM.Models;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Tests;

/// <summary>
/// <c>pixelllm bench --task densecap</c> on pixelllm-tiny-densecap (the golden tiny_densecap structure, random weights):
/// every stage is timed and reported with the K-box ÷ (K × single) ratio, the staged pipeline computes exactly what the
/// product's <see cref="PixelLLM.Models.DenseCaptioning.DenseCaptioner"/> computes, and bad options are one clear error.
/// </summary>
public class DenseCaptionBenchTests
{
    [Theory]
    [InlineData(DType.F32, null)]
    [InlineData(DType.BF16, 12)]
    public void EveryStageAndTheRatioAreReported(DType weights, int? boxes)
    {
        var json = Path.Combine(Path.GetTempPath(), $"pixelllm-densecap-bench-{Guid.NewGuid():N}.json");
        try
        {
            var output = new StringWriter();
            var result = DenseCaptionBenchRun.Run("pixelllm-tiny-densecap", "cpu", weights, runs: 2, seed: 3, boxes, json, output);
            int k = boxes ?? 8;
            Assert.Equal(k, result.Boxes);
            Assert.True(result.SlotZeroMatchesSingle, output.ToString());
            Assert.Equal(result.BatchedMs / (k * result.SingleMs), result.Ratio, 1e-9);
            Assert.Contains($"ratio {k}-box ÷ ({k} × single)", output.ToString());

            using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
            var root = doc.RootElement;
            Assert.Equal("densecap", root.GetProperty("task").GetString());
            Assert.Equal(k, root.GetProperty("slots_with_a_box").GetInt32());      // the forced K: every slot holds a proposal's box
            var stages = root.GetProperty("stages").EnumerateArray().ToList();
            Assert.Equal(DenseCaptionBenchRun.StageKeys, stages.Select(s => s.GetProperty("key").GetString()));
            Assert.All(stages, s => Assert.True(s.GetProperty("best_ms").GetDouble() > 0, s.GetProperty("stage").GetString()));
            Assert.All(stages, s => Assert.Equal(2, s.GetProperty("timed_runs").GetInt32()));
            Assert.True(root.GetProperty("ratio_batched_over_k_singles").GetDouble() > 0);
        }
        finally
        {
            File.Delete(json);
        }
    }

    [Fact]
    public void TheStagesComputeWhatTheDenseCaptionerComputes()
    {
        using var backend = new CpuBackend();
        using var bench = new DenseCaptionBench(BenchConfigs.Get("pixelllm-tiny-densecap"), DType.F32, 5, backend, 10);
        var features = bench.EncodeImage();
        var detections = bench.Detect(features);
        var staged = bench.Decode(bench.EncodeText(bench.AdaptPrompts(features, DenseCaptionBench.Boxes(detections))));
        var product = bench.Captioner.DenseCaption(features, bench.Context, DecodeEngine.KvCache);

        Assert.Equal(10, product.Slots);
        Assert.All(product.Boxes, b => Assert.Contains(b, v => v != 0f));
        Assert.Equal(product.Boxes.SelectMany(b => b), detections.Boxes);
        for (int i = 0; i < product.Slots; i++)
        {
            Assert.Equal(product.RawTokens[i], staged.Raw[i]);
            Assert.Equal(product.LogProbs[i], staged.LogProbs[i], 1e-5f);
        }
        // A single box through the same stages gives its slot's caption (the batch does not mix rows).
        var single = bench.Decode(bench.EncodeText(bench.AdaptPrompts(features, DenseCaptionBench.Box(detections, 3))));
        Assert.Equal(product.RawTokens[3], single.Raw[0]);
    }

    [Fact]
    public void BadOptionsAreOneClearError()
    {
        using var backend = new CpuBackend();
        var tooMany = Assert.Throws<InvalidInputException>(() => new DenseCaptionBench(BenchConfigs.Get("pixelllm-tiny-densecap"), DType.F32, 1, backend, 13));
        Assert.Contains("post_nms_topk_test", tooMany.Message);
        var noDecoder = Assert.Throws<InvalidInputException>(() => new DenseCaptionBench(BenchConfigs.Get("pixelllm-tiny"), DType.F32, 1, backend, null));
        Assert.Contains("box decoder", noDecoder.Message);
        var noPointHead = Assert.Throws<InvalidInputException>(() =>
            BenchCommand.Run("pixelllm-tiny-densecap", "cpu", DType.F32, 1, 1, BenchCommand.Stages(null), null, new StringWriter()));
        Assert.Contains("point head", noPointHead.Message);
    }
}
