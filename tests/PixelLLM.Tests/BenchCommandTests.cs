using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Cli;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Tests;

/// <summary>
/// <c>pixelllm bench</c> on the tiny config (the real model's structure): every stage runs in f32 and bf16, and a model
/// with bf16 Linear weights computes what the f32 model computes on the same (bf16-rounded) values.
/// </summary>
public class BenchCommandTests
{
    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.BF16)]
    public void EveryStageRunsAndIsReported(DType weights)
    {
        var json = Path.Combine(Path.GetTempPath(), $"pixelllm-bench-{Guid.NewGuid():N}.json");
        try
        {
            var output = new StringWriter();
            Assert.Equal(0, BenchCommand.Run("pixelllm-tiny", "cpu", weights, runs: 2, seed: 2, BenchCommand.Stages(null), json, output));
            Assert.Contains("peak resident memory", output.ToString());
            using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
            var stages = doc.RootElement.GetProperty("stages").EnumerateArray().ToList();
            Assert.Equal(9, stages.Count);
            Assert.Contains(stages, s => s.GetProperty("stage").GetString()!.StartsWith("vision graph", StringComparison.Ordinal));
            // Runs after the warm-up must decode the warm-up's tokens (on CUDA they replay recorded graphs).
            var e2e = stages.Single(s => s.GetProperty("stage").GetString()!.StartsWith("end to end", StringComparison.Ordinal));
            Assert.Contains("tokens of every run == warm-up's: yes", e2e.GetProperty("note").GetString());
            Assert.All(stages, s => Assert.True(s.GetProperty("best_ms").GetDouble() > 0, s.GetProperty("stage").GetString()));
            Assert.Equal(weights.ToString(), doc.RootElement.GetProperty("weights").GetString());
            Assert.True(doc.RootElement.GetProperty("weight_bytes").GetInt64() > 0);
        }
        finally
        {
            File.Delete(json);
        }
    }

    /// <summary>e2e4 runs only when named: four different images in one batch, per-image time and the replay check in its note.</summary>
    [Fact]
    public void TheFourImageBatchStageRunsWhenNamed()
    {
        Assert.DoesNotContain("e2e4", BenchCommand.Stages(null));
        var output = new StringWriter();
        Assert.Equal(0, BenchCommand.Run("pixelllm-tiny", "cpu", DType.F32, runs: 1, seed: 2, BenchCommand.Stages("e2e4"), null, output));
        var line = Assert.Single(output.ToString().Split('\n'), l => l.Contains("4 images in one batch", StringComparison.Ordinal));
        Assert.Contains("per image", line);
        Assert.Contains("tokens of every run == warm-up's: yes", line);
    }

    /// <summary>vision4 runs only when named: the vision graph over four canvases in one batch, reported as such.</summary>
    [Fact]
    public void TheFourImageVisionStageRunsWhenNamed()
    {
        Assert.DoesNotContain("vision4", BenchCommand.Stages(null));
        var json = Path.Combine(Path.GetTempPath(), $"pixelllm-bench-{Guid.NewGuid():N}.json");
        try
        {
            Assert.Equal(0, BenchCommand.Run("pixelllm-tiny", "cpu", DType.F32, runs: 1, seed: 2, BenchCommand.Stages("vision4"), json, new StringWriter()));
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var stage = Assert.Single(doc.RootElement.GetProperty("stages").EnumerateArray());
            Assert.StartsWith("4-image vision graph", stage.GetProperty("stage").GetString());
            Assert.True(stage.GetProperty("best_ms").GetDouble() > 0);
        }
        finally { File.Delete(json); }
    }

    [Fact]
    public void BaselineFromAnEarlierRunIsComparedStageByStage()
    {
        var json = Path.Combine(Path.GetTempPath(), $"pixelllm-bench-{Guid.NewGuid():N}.json");
        try
        {
            var stages = BenchCommand.Stages("adapter,t5-encode");
            Assert.Equal(0, BenchCommand.Run("pixelllm-tiny", "cpu", DType.F32, runs: 1, seed: 2, stages, json, new StringWriter()));
            var output = new StringWriter();
            Assert.Equal(0, BenchCommand.Run("pixelllm-tiny", "cpu", DType.F32, runs: 1, seed: 2, BenchCommand.Stages("adapter,decode"), null, output,
                baselinePath: json));
            var text = output.ToString();
            Assert.Contains("against " + Path.GetFileName(json), text);
            Assert.Matches(@"prompt adapter \+ projection\s+[0-9.]+ → +[0-9.]+ +[-+]?[0-9.]+ %", text);
            Assert.Contains("(not in the baseline)", text); // decode ran here but not there
        }
        finally { File.Delete(json); }
    }

    [Fact]
    public void AMissingOrForeignBaselineIsOneClearErrorBeforeAnyTiming()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"pixelllm-none-{Guid.NewGuid():N}.json");
        var e = Assert.Throws<InvalidInputException>(() => BenchCommand.Run("pixelllm-tiny", "cpu", DType.F32, 1, 2, BenchCommand.Stages("adapter"), null,
            new StringWriter(), baselinePath: missing));
        Assert.StartsWith($"--baseline {missing}:", e.Message);
        var foreign = Path.Combine(Path.GetTempPath(), $"pixelllm-foreign-{Guid.NewGuid():N}.json");
        File.WriteAllText(foreign, "{\"stages\": 3}");
        try { Assert.Throws<InvalidInputException>(() => BenchBaseline.Load(foreign)); }
        finally { File.Delete(foreign); }
    }

    [Fact]
    public void RunHeaderNamesTheEngineSwitchesSet()
    {
        Environment.SetEnvironmentVariable("PIXELLLM_BENCH_TEST_SWITCH", "7"); // read by nothing: safe beside other tests
        try
        {
            Assert.Contains(("PIXELLLM_BENCH_TEST_SWITCH", "7"), BenchJson.Switches());
            Assert.Contains("PIXELLLM_BENCH_TEST_SWITCH=7", BenchJson.SwitchesLine());
            Assert.DoesNotContain(BenchJson.Switches(), s => !s.Name.StartsWith("PIXELLLM_", StringComparison.Ordinal));
        }
        finally { Environment.SetEnvironmentVariable("PIXELLLM_BENCH_TEST_SWITCH", null); }
        Assert.DoesNotContain(BenchJson.Switches(), s => s.Name == "PIXELLLM_BENCH_TEST_SWITCH");
    }

    [Fact]
    public void UnknownConfigDtypeOrStageIsOneClearError()
    {
        Assert.Contains("pixelllm-t5xl", Assert.Throws<InvalidInputException>(() => BenchConfigs.Get("pixelllm-huge")).Message);
        Assert.Contains("decode4", Assert.Throws<InvalidInputException>(() => BenchCommand.Stages("sam,warp")).Message);
    }

    [Fact]
    public void Bf16LinearWeightsGiveTheF32ModelsResultOnTheRoundedValues()
    {
        var config = BenchConfigs.Get("pixelllm-tiny");
        var shapes = EngineParameterShapes.For(config);
        var bf16 = new LazyRandomWeights(shapes, seed: 4, BenchStages.LinearWeightsAsBf16);
        var widened = new DictionaryWeights(shapes.Keys.ToDictionary(n => n, n => bf16.Get(n).ToF32()));
        Assert.Contains(shapes.Keys, n => bf16.Get(n).DType == DType.BF16);

        var rng = new Random(4);
        var pixels = new byte[100 * 90 * 3];
        rng.NextBytes(pixels);
        var image = HostTensor.FromArray(pixels, 100, 90, 3);
        var box = HostTensor.FromArray([10f, 12f, 70f, 80f], 1, 4);
        int[][] context = [[5, 17, 1, 0]];
        (int[] Tokens, float[] Encoded) Caption(IWeightSource weights)
        {
            using var backend = new CpuBackend();
            using var model = new PixelLlm(config, weights, backend);
            var features = model.EncodeImage(image);
            var encoding = model.EncodePrompts(features.Fused, box, context);
            var text = model.Decode(encoding, new DecodeMode.Greedy(), DecodeEngine.KvCache);
            return (text.Raw[0], encoding.EncoderOutput.ToFloatArray());
        }
        var (tokensBf16, encodedBf16) = Caption(bf16);
        var (tokensF32, encodedF32) = Caption(widened);
        Assert.Equal(tokensF32, tokensBf16);
        Support.OpHarness.AssertClose(encodedF32.Select(v => (double)v).ToArray(), encodedBf16, what: "T5 encoder output, bf16 vs widened f32 weights");
    }
}
