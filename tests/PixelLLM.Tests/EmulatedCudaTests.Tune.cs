using System.Text.Json;
using PixelLLM.Backends.Cuda;

namespace PixelLLM.Tests;

public partial class EmulatedCudaTests
{
    /// <summary>
    /// `pixelllm tune` end to end on the emulator (its timings say nothing; the flow is what is checked): the reference and
    /// the candidate pass backend-check in child processes, the profile names this device and build and records the
    /// candidate's checks and timings, holds the candidate's switch exactly when its verdict took it, and a later backend
    /// on the device applies it (info, bench); with a tunable switch set in the environment tune refuses, in one line.
    /// </summary>
    [Fact]
    public void TuneChecksTimesAndWritesAProfileTheNextBackendApplies()
    {
        var profile = System.IO.Path.Combine(emulator.Folder, "tuned-test.json");
        var logs = System.IO.Path.Combine(emulator.Folder, "tune-logs");
        var run = Run(Cli, ["tune", "--config", "pixelllm-tiny", "--runs", "1", "--candidates", "swiglu-norm", "--stages", "eva02",
            "--min-gain", "0", "--out", profile, "--log", logs], emulator.Environment, TimeSpan.FromMinutes(10));
        output.WriteLine(Tail(run.Output));
        Assert.True(run.ExitCode == 0, $"tune failed on the emulator:\n{Tail(run.Output)}");
        Assert.Contains($"profile: {profile}", run.Output);
        foreach (var step in new[] { "reference-check-f32", "reference-check-bf16", "reference-bench", "swiglu-norm-check-f32", "swiglu-norm-check-bf16", "swiglu-norm-bench" })
            Assert.Contains("PIXELLLM_TUNED=0", File.ReadLines(System.IO.Path.Combine(logs, step + ".log")).First());

        var tuned = TunedSwitches.Read(profile);
        Assert.Equal("PixelLLM CUDA emulator (CPU)", tuned.Device);
        Assert.Equal(TunedSwitches.EngineKey, tuned.Engine);
        using var evidence = JsonDocument.Parse(File.ReadAllBytes(profile));
        var candidate = Assert.Single(evidence.RootElement.GetProperty("candidates").EnumerateArray());
        Assert.Equal("pass", candidate.GetProperty("checks").GetString());
        var stage = Assert.Single(candidate.GetProperty("stages").EnumerateArray(), s => s.GetProperty("stage").GetString() == "eva02");
        Assert.True(stage.GetProperty("candidate_ms").GetDouble() > 0);
        bool taken = candidate.GetProperty("taken").GetBoolean();
        Assert.Equal(taken, tuned.Values.TryGetValue("PIXELLLM_FUSED_SWIGLU_NORM", out var value) && value == "1");

        // Applied: pinned here so the check does not hang on the emulator's timing noise.
        var pinned = System.IO.Path.Combine(emulator.Folder, "tuned-pinned.json");
        new TunedSwitches(tuned.Device, tuned.Arch, tuned.Engine, new Dictionary<string, string> { ["PIXELLLM_FUSED_SWIGLU_NORM"] = "1" }).Write(pinned, _ => { });
        var withProfile = new Dictionary<string, string>(emulator.Environment) { [TunedSwitches.Variable] = pinned };
        var info = Run(Cli, ["info"], withProfile, TimeSpan.FromMinutes(1));
        Assert.Contains($"{pinned}: PIXELLLM_FUSED_SWIGLU_NORM=1", info.Output);
        Assert.Matches(@"PIXELLLM_FUSED_SWIGLU_NORM\s+tuned 1", info.Output);
        var bench = Run(Cli, ["bench", "--config", "pixelllm-tiny", "--random-weights", "--backend", "cuda", "--stages", "t5-encode", "--runs", "1"],
            withProfile, TimeSpan.FromMinutes(5));
        Assert.Contains($"tuned profile: {pinned}: PIXELLLM_FUSED_SWIGLU_NORM=1", bench.Output);

        var refused = Run(Cli, ["tune", "--config", "pixelllm-tiny", "--candidates", "mlp"],
            new Dictionary<string, string>(emulator.Environment) { ["PIXELLLM_FUSED_MLP"] = "1" }, TimeSpan.FromMinutes(1));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("error: tune times every path against the built-in defaults: unset PIXELLLM_FUSED_MLP first", refused.Output);
    }

    /// <summary>
    /// A candidate whose path is broken (its kernel missing, by the emulator's fault injection) fails its checks and is
    /// not taken; tune goes on to the next candidate and writes the profile without it.
    /// </summary>
    [Fact]
    public void TuneRejectsABrokenCandidateAndGoesOn()
    {
        var profile = System.IO.Path.Combine(emulator.Folder, "tuned-broken.json");
        var environment = new Dictionary<string, string>(emulator.Environment) { ["PIXELLLM_EMULATOR_MISSING_KERNEL"] = "swiglu_norm" };
        var run = Run(Cli, ["tune", "--config", "pixelllm-tiny", "--runs", "1", "--candidates", "swiglu-norm,mlp", "--stages", "eva02,rerun",
            "--out", profile], environment, TimeSpan.FromMinutes(10));
        output.WriteLine(Tail(run.Output));
        Assert.True(run.ExitCode == 0, $"tune failed on the emulator:\n{Tail(run.Output)}");
        Assert.Matches(@"swiglu-norm +not taken: fails backend-check \(f32\)", run.Output);
        Assert.Matches(@"mlp +(TAKEN|not taken): (faster|slower|not)", run.Output);
        var tuned = TunedSwitches.Read(profile);
        Assert.False(tuned.Values.ContainsKey("PIXELLLM_FUSED_SWIGLU_NORM"));
        using var evidence = JsonDocument.Parse(File.ReadAllBytes(profile));
        var candidates = evidence.RootElement.GetProperty("candidates").EnumerateArray().ToList();
        Assert.Equal(["swiglu-norm", "mlp"], candidates.Select(c => c.GetProperty("name").GetString()));
        Assert.StartsWith("fails backend-check (f32)", candidates[0].GetProperty("checks").GetString());
        Assert.False(candidates[0].GetProperty("taken").GetBoolean());
    }
}
