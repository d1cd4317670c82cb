using System.Text.Json;
using PixelLLM.Cli;
using PixelLLM.Runtime;

namespace PixelLLM.Tests.Api;

/// <summary>
/// <c>--profile-json</c> on a task command and <c>--profile</c> on the bench: the result is what the unprofiled command
/// prints, and the profile names the ops that ran, with work counted and the device's measured peaks.
/// </summary>
public sealed class ProfileCommandTests(RefsegModel refseg) : IClassFixture<RefsegModel>, IDisposable
{
    private readonly string outDir = Directory.CreateTempSubdirectory("pixelllm-profile-").FullName;

    [Fact]
    public void SegmentWithProfileJsonPrintsTheSameResultAndWritesThePerOpProfile()
    {
        var args = new RequestArgs(refseg.ImagePath, refseg.Directory, "cpu", null, null, null);
        var plain = new StringWriter();
        Assert.Equal(0, CliErrors.Guard(() => SegmentCommand.Run(args, ["the white cat near the table"], plain)));
        var path = Path.Combine(outDir, "profile.json");
        var profiled = new StringWriter();
        Assert.Equal(0, CliErrors.Guard(() => SegmentCommand.Run(args with { ProfileJson = path }, ["the white cat near the table"], profiled)));
        Assert.Equal(plain.ToString(), profiled.ToString());

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        var ops = root.GetProperty("ops").EnumerateArray().ToDictionary(o => o.GetProperty("op").GetString()!);
        Assert.Contains("Linear", ops.Keys);
        Assert.Contains("Attention", ops.Keys);
        Assert.True(ops["Linear"].GetProperty("flops").GetDouble() > 0 && ops["Linear"].GetProperty("calls").GetInt64() > 0);
        Assert.True(root.GetProperty("peaks").GetProperty("gemm_flops_per_second").GetDouble() > 0);
        Assert.True(root.GetProperty("graphs").GetArrayLength() > 1);
    }

    [Fact]
    public void BenchProfilePrintsLaunchesPerDecodeStepAndWritesOneProfilePerStage()
    {
        var path = Path.Combine(outDir, "bench-profile.json");
        var output = new StringWriter();
        var profiling = new BenchProfiling(output, path);
        Assert.Equal(0, BenchCommand.Run("pixelllm-tiny", "cpu", DType.F32, runs: 1, seed: 2, BenchCommand.Stages("t5-encode,decode"), null, output, profiling));
        var text = output.ToString();
        Assert.Contains("launches per decode step:", text);
        Assert.Contains("measured peaks: GEMM", text);

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var stages = doc.RootElement.GetProperty("stages").EnumerateArray().ToList();
        Assert.Equal(["t5-encode", "decode"], stages.Select(s => s.GetProperty("stage").GetString()));
        var decode = stages[1];
        var step = decode.GetProperty("profile").GetProperty("graphs").EnumerateArray().MaxBy(g => g.GetProperty("runs").GetInt64());
        Assert.Equal(step.GetProperty("launches_per_run").GetDouble(), decode.GetProperty("launches_per_decode_step").GetDouble());
        // Embedding, the position bias, the decoder stack, the final norm and the vocabulary projection at least.
        Assert.True(decode.GetProperty("launches_per_decode_step").GetDouble() > 5);
        var ops = decode.GetProperty("profile").GetProperty("ops").EnumerateArray().Select(o => o.GetProperty("op").GetString()).ToList();
        Assert.Contains("Linear", ops);
        Assert.Contains("T5DecoderStack", ops);
    }

    [Fact]
    public void SegmentWithProfileTimelineWritesEveryStageAndRunOnOneTimeline()
    {
        var args = new RequestArgs(refseg.ImagePath, refseg.Directory, "cpu", null, null, null);
        var path = Path.Combine(outDir, "timeline.json");
        var printed = new StringWriter();
        Assert.Equal(0, CliErrors.Guard(() => SegmentCommand.Run(args with { ProfileTimeline = path }, ["the white cat near the table"], printed)));
        Assert.Contains("mask", printed.ToString());

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var events = doc.RootElement.GetProperty("traceEvents").EnumerateArray().Where(e => e.GetProperty("ph").GetString() == "X").ToList();
        string Cat(JsonElement e) => e.GetProperty("cat").GetString()!;
        var sections = events.Where(e => Cat(e) == "section").Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Equal(["vision", "segment"], sections); // the request's stages, as its progress events name them
        var runs = events.Where(e => Cat(e) == "run").ToList();
        Assert.True(runs.Count > 3, $"{runs.Count} graph runs");
        Assert.Equal(runs.Sum(r => r.GetProperty("args").GetProperty("nodes").GetInt32()), events.Count(e => Cat(e) == "node"));
        Assert.Contains(events, e => Cat(e) == "node" && e.GetProperty("name").GetString() == "Linear" && e.GetProperty("args").GetProperty("flops").GetDouble() > 0);
        Assert.Empty(Directory.GetFiles(outDir, ".*.tmp"));
    }

    [Fact]
    public void ATimelineIntoAMissingFolderFailsBeforeAnyWork()
    {
        var path = Path.Combine(outDir, "no-such-folder", "timeline.json");
        var args = new RequestArgs(refseg.ImagePath, refseg.Directory, "cpu", null, null, null, ProfileTimeline: path);
        var error = Assert.Throws<InvalidInputException>(() => SegmentCommand.Run(args, ["the cat"], new StringWriter()));
        Assert.Contains("no-such-folder", error.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void BenchTimelineKeepsEachStagesTimedRunsInItsSection()
    {
        var json = Path.Combine(outDir, "bench-profile.json");
        var timeline = Path.Combine(outDir, "bench-timeline.json");
        var profiling = new BenchProfiling(null, json, timelinePath: timeline);
        Assert.Equal(0, BenchCommand.Run("pixelllm-tiny", "cpu", DType.F32, runs: 2, seed: 2, BenchCommand.Stages("t5-encode,decode"), null, new StringWriter(), profiling));

        using var profile = JsonDocument.Parse(File.ReadAllBytes(json));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(timeline));
        var events = doc.RootElement.GetProperty("traceEvents").EnumerateArray().Where(e => e.GetProperty("ph").GetString() == "X").ToList();
        double Ts(JsonElement e) => e.GetProperty("ts").GetDouble();
        double End(JsonElement e) => Ts(e) + e.GetProperty("dur").GetDouble();
        var sections = events.Where(e => e.GetProperty("cat").GetString() == "section").ToList();
        Assert.Equal(["t5-encode", "decode"], sections.Select(s => s.GetProperty("name").GetString()));
        var runs = events.Where(e => e.GetProperty("cat").GetString() == "run").ToList();
        foreach (var (section, stage) in sections.Zip(profile.RootElement.GetProperty("stages").EnumerateArray()))
        {
            // The profile and the timeline forget the warm-up at the same moment, so they count the same runs.
            long profiled = stage.GetProperty("profile").GetProperty("graphs").EnumerateArray().Sum(g => g.GetProperty("runs").GetInt64());
            Assert.Equal(profiled, runs.Count(r => Ts(r) >= Ts(section) && End(r) <= End(section) + 1e-3));
        }
        Assert.Equal(runs.Count, runs.Count(r => sections.Any(s => Ts(r) >= Ts(s) && End(r) <= End(s) + 1e-3)));
    }

    public void Dispose() => Directory.Delete(outDir, recursive: true);
}
