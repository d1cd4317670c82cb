using PixelLLM.Backends.Cuda;
using PixelLLM.Cli;
using PixelLLM.Runtime;

namespace PixelLLM.Tests;

/// <summary>
/// `pixelllm tune` without a device: how a candidate's timings are judged, that its table names only tunable switches and
/// real stages, and how a backend's switch settings come from the environment, the card's tuned profile or the defaults.
/// (EmulatedCudaTests.Tune runs the command itself on the emulator.)
/// </summary>
public class TuneTests
{
    private static Dictionary<string, double> Ms(params (string Stage, double Ms)[] stages) => stages.ToDictionary(s => s.Stage, s => s.Ms);

    [Fact]
    public void APathIsTakenWhenOneOfItsStagesGainsAndNothingItJudgesLoses()
    {
        var reference = Ms(("decode", 1.60), ("decode4", 2.40), ("e2e", 52.0), ("sam", 5.8));
        var verdict = TuneDecision.Judge(reference, Ms(("decode", 1.40), ("decode4", 2.41), ("e2e", 49.0), ("sam", 7.0)), ["decode", "decode4"], 0.02);
        Assert.True(verdict.Taken, verdict.Reason);
        // sam is not the path's stage: a change there is not judged (noise on another stage must not veto it).
        Assert.Equal(["decode", "decode4", "e2e"], verdict.Changes.Select(c => c.Stage));
        Assert.Equal(-0.125, verdict.Changes[0].Change, 6);
    }

    [Theory]
    [InlineData(1.40, 2.50, 52.0, "slower: decode4 +4.2%")]     // its other stage loses
    [InlineData(1.40, 2.40, 53.1, "slower: e2e +2.1%")]         // the whole request loses
    [InlineData(1.58, 2.39, 51.9, "not 2% faster")]             // gains within noise
    public void APathIsNotTakenWhenItLosesAnywhereItIsJudgedOrGainsTooLittle(double decode, double decode4, double e2e, string reason)
    {
        var reference = Ms(("decode", 1.60), ("decode4", 2.40), ("e2e", 52.0));
        var verdict = TuneDecision.Judge(reference, Ms(("decode", decode), ("decode4", decode4), ("e2e", e2e)), ["decode", "decode4"], 0.02);
        Assert.False(verdict.Taken);
        Assert.StartsWith(reason, verdict.Reason);
    }

    [Fact]
    public void APathWhoseStagesWereNotTimedIsNotTaken()
    {
        var verdict = TuneDecision.Judge(Ms(("sam", 5.8), ("e2e", 52)), Ms(("sam", 4.0), ("e2e", 40)), ["decode"], 0.02);
        Assert.False(verdict.Taken);
        Assert.Contains("none of its stages (decode) was measured", verdict.Reason);
    }

    [Fact]
    public void EveryCandidateSetsTunableSwitchesAndNamesRealStagesAndOps()
    {
        var tunable = CudaSwitches.All.Where(s => s.Tunable).Select(s => s.Name).ToHashSet();
        Assert.Equal(TuneCandidates.All.Count, TuneCandidates.All.Select(c => c.Name).Distinct().Count());
        foreach (var c in TuneCandidates.All)
        {
            Assert.All(c.Switches.Keys, name => Assert.Contains(name, tunable));
            Assert.Equal(c.Stages.Count, BenchCommand.Stages(string.Join(",", c.Stages)).Count); // throws on an unknown stage
            Assert.Equal(c.Ops.Split(',').Length, BackendCheckCommand.OpNames(c.Ops)!.Count); // throws on an op the catalog lacks
        }
        // And every tunable switch is tried by some candidate (else a profile could never set it).
        Assert.Equal(tunable.Order(), TuneCandidates.All.SelectMany(c => c.Switches.Keys).Distinct().Order());
        Assert.Throws<InvalidInputException>(() => TuneCandidates.Select("mma,nonsense"));
        Assert.Equal(["mma", "stream"], TuneCandidates.Select("stream,mma").Select(c => c.Name)); // the table's order
    }

    private sealed class Folder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("pixelllm-tuned-").FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] set) =>
        name => set.FirstOrDefault(s => s.Name == name).Value;

    private static string Profile(string folder, string name, string device = "Card", string arch = "sm_90", string? engine = null,
        params (string Name, string Value)[] switches)
    {
        var path = System.IO.Path.Combine(folder, name);
        new TunedSwitches(device, arch, engine ?? TunedSwitches.EngineKey, switches.ToDictionary(s => s.Name, s => s.Value)).Write(path, _ => { });
        return path;
    }

    [Fact]
    public void TheEnvironmentWinsThenTheCardsProfileThenTheDefault()
    {
        using var folder = new Folder();
        var path = TunedSwitches.DefaultPath("Card", "sm_90", Env(("XDG_CACHE_HOME", folder.Path)));
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.Move(Profile(folder.Path, "p.json", switches: [("PIXELLLM_PREFETCH_L2", "16"), ("PIXELLLM_WARP_SOFTMAX", "1")]), path);

        var settings = CudaSwitchSettings.ForDevice("Card", "sm_90", Env(("XDG_CACHE_HOME", folder.Path), ("PIXELLLM_WARP_SOFTMAX", "0")));
        Assert.NotNull(settings.Tuned);
        Assert.Equal("16", settings.Get("PIXELLLM_PREFETCH_L2"));
        Assert.Equal("tuned", settings.Source("PIXELLLM_PREFETCH_L2"));
        Assert.Equal("0", settings.Get("PIXELLLM_WARP_SOFTMAX"));
        Assert.Equal("environment", settings.Source("PIXELLLM_WARP_SOFTMAX"));
        Assert.Null(settings.Get("PIXELLLM_MMA_ATTENTION"));
        Assert.Equal("default", settings.Source("PIXELLLM_MMA_ATTENTION"));
        Assert.Contains("PIXELLLM_PREFETCH_L2=16", settings.TunedStatus);

        // Another card's name, or PIXELLLM_TUNED=0: the defaults.
        Assert.Null(CudaSwitchSettings.ForDevice("Other card", "sm_90", Env(("XDG_CACHE_HOME", folder.Path))).Get("PIXELLLM_PREFETCH_L2"));
        var off = CudaSwitchSettings.ForDevice("Card", "sm_90", Env(("XDG_CACHE_HOME", folder.Path), ("PIXELLLM_TUNED", "0")));
        Assert.Null(off.Get("PIXELLLM_PREFETCH_L2"));
        Assert.StartsWith("off", off.TunedStatus);
    }

    [Fact]
    public void AStaleOrDamagedProfileAtTheDefaultPathIsSkippedWithTheReason()
    {
        using var folder = new Folder();
        var env = Env(("XDG_CACHE_HOME", folder.Path));
        var path = TunedSwitches.DefaultPath("Card", "sm_90", env);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);

        File.Move(Profile(folder.Path, "old.json", engine: "0.1.0; kernels 0000", switches: [("PIXELLLM_PREFETCH_L2", "16")]), path);
        var stale = CudaSwitchSettings.ForDevice("Card", "sm_90", env);
        Assert.Null(stale.Get("PIXELLLM_PREFETCH_L2"));
        Assert.Contains("tuned for engine 0.1.0; kernels 0000", stale.TunedStatus);
        Assert.Contains("run `pixelllm tune` again", stale.TunedStatus);

        File.Move(Profile(folder.Path, "arch.json", arch: "sm_80", switches: [("PIXELLLM_PREFETCH_L2", "16")]), path, overwrite: true);
        Assert.Contains("tuned on Card (sm_80), this is Card (sm_90)", CudaSwitchSettings.ForDevice("Card", "sm_90", env).TunedStatus);

        File.WriteAllText(path, "{\"format\": \"pixelllm-tuned/1\", \"device\": \"Card\"");
        Assert.StartsWith("skipped: ", CudaSwitchSettings.ForDevice("Card", "sm_90", env).TunedStatus);

        File.WriteAllText(path, "{\"format\": \"pixelllm-tuned/1\", \"device\": \"Card\", \"arch\": \"sm_90\", \"engine\": \"x\", \"switches\": {\"PIXELLLM_CUDA_GRAPHS\": \"0\"}}");
        Assert.Contains("switch 'PIXELLLM_CUDA_GRAPHS' is not one `pixelllm tune` sets", CudaSwitchSettings.ForDevice("Card", "sm_90", env).TunedStatus);
    }

    [Fact]
    public void AProfileNamedByTheEnvironmentThatCannotApplyIsAnError()
    {
        using var folder = new Folder();
        var missing = System.IO.Path.Combine(folder.Path, "missing.json");
        var e = Assert.Throws<BackendException>(() => CudaSwitchSettings.ForDevice("Card", "sm_90", Env(("PIXELLLM_TUNED", missing))));
        Assert.Contains($"$PIXELLLM_TUNED: {missing} does not exist", e.Message);

        var h100 = Profile(folder.Path, "h100.json", device: "NVIDIA H100", switches: [("PIXELLLM_PREFETCH_L2", "16")]);
        e = Assert.Throws<BackendException>(() => CudaSwitchSettings.ForDevice("NVIDIA H200", "sm_90", Env(("PIXELLLM_TUNED", h100))));
        Assert.Contains("was tuned on NVIDIA H100 (sm_90), this is NVIDIA H200 (sm_90)", e.Message);

        Assert.Equal("16", CudaSwitchSettings.ForDevice("NVIDIA H100", "sm_90", Env(("PIXELLLM_TUNED", h100))).Get("PIXELLLM_PREFETCH_L2"));
    }

    [Fact]
    public void TheDryRunListsEveryCommandWithItsSwitchesAndNoProfile()
    {
        var output = new StringWriter();
        var root = CliRoot.Create();
        int exit = root.Parse(["tune", "--dry-run", "--candidates", "prefetch-32,grid", "--runs", "2"]).Invoke(new() { Output = output });
        Assert.Equal(0, exit);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.All(lines.Where(l => l.Contains("pixelllm ")), l => Assert.StartsWith("PIXELLLM_TUNED=0 ", l));
        Assert.Contains("PIXELLLM_TUNED=0 PIXELLLM_GRID_ATTENTION=1 pixelllm backend-check --backend cuda --op GridAttention --storage bf16", lines);
        Assert.Contains(lines, l => l.StartsWith("PIXELLLM_TUNED=0 PIXELLLM_PREFETCH_L2=32 pixelllm bench ", StringComparison.Ordinal)
                                    && l.Contains("--runs 2 --stages sam,decode,decode4,e2e", StringComparison.Ordinal));
        Assert.True(lines.ToList().FindIndex(l => l.StartsWith("grid", StringComparison.Ordinal))
                    < lines.ToList().FindIndex(l => l.StartsWith("prefetch-32", StringComparison.Ordinal)));
    }
}
