using System.Text.Json;
using PixelLLM.Cli;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>
/// <c>pixelllm bench --model DIR</c>: a model directory's own requests (serve's request lines) timed through the API, each
/// with its cold run, best/median, tokens and phases; every option that belongs to the other form is refused with one line.
/// </summary>
public class ModelBenchTests(RefsegModel refseg) : IClassFixture<RefsegModel>
{
    private static string TempJson() => Path.Combine(Path.GetTempPath(), $"pixelllm-modelbench-{Guid.NewGuid():N}.json");

    [Fact]
    public void EveryTaskOfTheModelIsTimedWithItsPhasesAndTokens()
    {
        var json = TempJson();
        try
        {
            var output = new StringWriter();
            string[] requests =
            [
                """{"task":"caption"}""",
                $$"""{"task":"refer","image":{{JsonSerializer.Serialize(refseg.ImagePath)}},"texts":["a green boat"],"decode_text":true}""",
                $$"""{"task":"segment","image":{{JsonSerializer.Serialize(refseg.ImagePath)}},"texts":["the white cat"],"beams":2}""",
            ];
            Assert.Equal(0, ModelBench.Run(refseg.Directory, new PixelLlmOptions(), requests, runs: 2, json, null, null, output));
            var text = output.ToString();
            Assert.Contains("precision f32", text);
            Assert.Contains("peak resident memory", text);

            using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
            var root = doc.RootElement;
            Assert.Equal("f32", root.GetProperty("weights").GetString());
            Assert.False(root.TryGetProperty("seed", out _));
            Assert.True(root.GetProperty("load_ms").GetDouble() > 0);
            var stages = root.GetProperty("stages").EnumerateArray().ToList();
            Assert.Equal(["request1", "request2", "request3"], stages.Select(s => s.GetProperty("key").GetString()));
            Assert.Equal(["caption scene_2000001.png", $"refer {Path.GetFileName(refseg.ImagePath)} \"a green boat\" decode_text",
                $"segment {Path.GetFileName(refseg.ImagePath)} \"the white cat\" beams 2"], stages.Select(s => s.GetProperty("stage").GetString()));
            foreach (var s in stages)
            {
                Assert.Equal(2, s.GetProperty("timed_runs").GetInt32());
                Assert.True(s.GetProperty("best_ms").GetDouble() > 0);
                Assert.True(s.GetProperty("median_ms").GetDouble() >= s.GetProperty("best_ms").GetDouble());
                Assert.True(s.GetProperty("cold_ms").GetDouble() > 0);
            }
            var caption = stages[0];
            Assert.True(caption.GetProperty("tokens").GetInt32() > 0);
            Assert.True(caption.GetProperty("decode_positions").GetInt32() > 0);
            var phases = caption.GetProperty("fastest_run_phases_ms").EnumerateObject().Select(p => p.Name).ToList();
            Assert.Equal(["setup", "vision", "prompts", "decode", "points"], phases);
            // The decoded expression is beam-decoded text: tokens are reported; the segment request's phases are its own stage's.
            Assert.True(stages[1].GetProperty("tokens").GetInt32() > 0);
            Assert.Contains("segment", stages[2].GetProperty("fastest_run_phases_ms").EnumerateObject().Select(p => p.Name));
        }
        finally { File.Delete(json); }
    }

    [Fact]
    public void AnEarlierRunIsTheBaselineRequestByRequestAndTheProfileCountsDecodeLaunches()
    {
        string first = TempJson(), profile = TempJson();
        try
        {
            Assert.Equal(0, ModelBench.Run(refseg.Directory, new PixelLlmOptions(), [ModelBench.DefaultRequest], 1, first, null, null, new StringWriter()));
            var output = new StringWriter();
            var profiling = new BenchProfiling(null, profile);
            Assert.Equal(0, ModelBench.Run(refseg.Directory, new PixelLlmOptions(), [ModelBench.DefaultRequest], 1, null, first, profiling, output));
            var against = output.ToString().Split('\n').SkipWhile(l => !l.Contains("against", StringComparison.Ordinal)).ToList();
            Assert.Contains(against, l => l.Contains("caption scene_2000001.png", StringComparison.Ordinal) && l.Contains('×'));
            Assert.DoesNotContain(against, l => l.Contains("not in the baseline", StringComparison.Ordinal));

            using var doc = JsonDocument.Parse(File.ReadAllBytes(profile));
            var stage = Assert.Single(doc.RootElement.GetProperty("stages").EnumerateArray());
            Assert.Equal("request1", stage.GetProperty("stage").GetString());
            Assert.True(stage.GetProperty("launches_per_decode_step").GetDouble() > 0);
        }
        finally
        {
            File.Delete(first);
            File.Delete(profile);
        }
    }

    [Theory]
    [InlineData("--request", """{"task":"densecap"}""", "cannot run task 'densecap' (its config has no box decoder)")]
    [InlineData("--request", """{"task":"info"}""", "--request: request field 'task': info has nothing to time")]
    [InlineData("--request", """{"task":"refer"}""", "--request: request field 'texts': refer needs at least one expression")]
    [InlineData("--request", """{"task":"caption","bogus":1}""", "--request: request field 'bogus': unknown")]
    [InlineData("--request", "caption", "--request: not JSON")]
    [InlineData("--request", """{"task":"caption","task":"refer"}""", "--request: key 'task' appears twice")]
    [InlineData("--request", "[1]", "--request: expected a JSON object")]
    [InlineData("--request", """{"task":"caption","image":"/nonexistent/x.png"}""", "/nonexistent/x.png: cannot read image")]
    [InlineData("--stages", "e2e", "bench: --stages applies to --config NAME --random-weights only")]
    [InlineData("--dtype", "bf16", "bench: --dtype applies to --config NAME --random-weights only")]
    [InlineData("--config", "pixelllm-tiny", "bench: give either --config NAME --random-weights")]
    [InlineData("--runs", "0", "--runs must be from 1 to 100000, got 0")]
    public void AModelDirectoryBenchRefusesWhatItCannotRunInOneLine(string option, string value, string expected)
    {
        var (code, error) = CliInProcess.Run("bench", "--model", refseg.Directory, option, value);
        Assert.Equal(2, code);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(expected, line);
    }

    [Theory]
    [InlineData(new[] { "bench", "--runs", "1" }, "bench: give either --config NAME --random-weights")]
    [InlineData(new[] { "bench", "--config", "pixelllm-tiny" }, "bench: --config needs --random-weights")]
    [InlineData(new[] { "bench", "--config", "pixelllm-tiny", "--random-weights", "--request", "{}" }, "bench: --request applies to --model DIR only")]
    [InlineData(new[] { "bench", "--config", "pixelllm-tiny", "--random-weights", "--precision", "bf16" }, "bench: --precision applies to --model DIR only")]
    public void TheRandomWeightsBenchRefusesTheModelOptions(string[] args, string expected)
    {
        var (code, error) = CliInProcess.Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }
}
