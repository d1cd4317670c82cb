using System.Diagnostics;
using System.Text.Json;
using PixelLLM.Backends.Cuda;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests;

/// <summary>
/// The CUDA backend run without a GPU: tests/CudaEmulator builds stand-ins for libcuda, NVRTC, cuBLAS and cuBLASLt that
/// run every kernel file, compiled for the host by g++, as CUDA would (blocks on threads, threads as fibers meeting at
/// barriers and warp collectives). The unchanged backend then goes through `pixelllm backend-check --backend cuda`, so
/// every kernel and every dispatch decision on the catalog's shapes is compared with the CPU backend in CI, including the
/// opt-in switches no device run has measured yet; then every golden through `verify --backend cuda`, and decode-step
/// graphs captured and replayed. Every run is under the emulator's memcheck (each device allocation ends against an
/// inaccessible page: a kernel that reads or writes past one ends the run, naming itself), and the whole-model runs put
/// each tensor in an allocation of its own (PIXELLLM_ISOLATE_TENSORS), so an overrun into a neighbour is caught too. It
/// cannot say anything about speed, and little about races: the emulator runs a block's threads one at a time between
/// barriers. Needs g++ (CI installs it), so a missing compiler is a failure, not a skip.
/// </summary>
public partial class EmulatedCudaTests(EmulatedCudaTests.Emulator emulator, ITestOutputHelper output) : IClassFixture<EmulatedCudaTests.Emulator>
{
    /// <summary>The libraries, built once per test run into a fresh folder (their modules cached there too).</summary>
    public sealed class Emulator : IDisposable
    {
        public Emulator()
        {
            Folder = Directory.CreateTempSubdirectory("pixelllm-emulator-").FullName;
            // --selftest: the fake driver's own checks (memory, modules, launches, capture and replay) run first.
            var build = Run("bash", [System.IO.Path.Combine(RepoRoot.Path, "tests", "CudaEmulator", "build.sh"), Folder, "--selftest"],
                new Dictionary<string, string>(), TimeSpan.FromMinutes(5));
            if (build.ExitCode != 0) throw new InvalidOperationException($"tests/CudaEmulator/build.sh failed (g++ needed):\n{Tail(build.Output)}");
            Environment = build.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => l.StartsWith("PIXELLLM_", StringComparison.Ordinal) && l.Contains('='))
                .ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);
            // A kernel cache of its own: the emulator's "CUBINs" name host modules, never the real NVRTC's.
            Environment["XDG_CACHE_HOME"] = System.IO.Path.Combine(Folder, "cache");
            Environment["PIXELLLM_EMULATOR_MEMCHECK"] = "1";
        }

        /// <summary>The environment, with every planned tensor in an allocation of its own (no arena) for the memcheck.</summary>
        public Dictionary<string, string> Isolated => new(Environment) { [Runtime.Execution.GraphExecutor.IsolateTensorsVariable] = "1" };

        public string Folder { get; }

        public Dictionary<string, string> Environment { get; }

        public void Dispose()
        {
            try { Directory.Delete(Folder, recursive: true); }
            catch (IOException) { }
        }
    }

    private static string Cli => System.IO.Path.Combine(AppContext.BaseDirectory, "pixelllm");

    private const string Decoder = "T5DecoderLayer,T5DecoderStack";
    private const string LongAttention = "Attention,GridAttention,RotaryAttention";

    /// <summary>storage, switches (NAME=VALUE;…), ops (empty: the whole catalog).</summary>
    public static TheoryData<string, string, string> Checks() => new()
    {
        { "f32", "", "" },
        { "bf16", "", "" },
        { "f16", "", "" },
        // A block's threads in other orders between their barriers: a read of another thread's write with no barrier
        // between them passes in at most one of the three.
        { "bf16", "PIXELLLM_EMULATOR_ORDER=reverse", "" },
        { "f32", "PIXELLLM_EMULATOR_ORDER=shuffle", "" },
        // The dataflow and persistent kernels on the grids other SM counts size (the fake device has 4 by default).
        { "bf16", "PIXELLLM_EMULATOR_SMS=1", Decoder + ",Mlp" },
        { "f32", "PIXELLLM_FUSED_LAYER=stream;PIXELLLM_EMULATOR_SMS=7", Decoder },
        // Every switch, on the ops it changes.
        { "f32", "PIXELLLM_FUSED_LAYER=stream", Decoder },
        { "bf16", "PIXELLLM_FUSED_LAYER=stream;PIXELLLM_STREAM_LAYER_BLOCKS=3", Decoder },
        { "f32", "PIXELLLM_FUSED_LAYER=1", Decoder },
        { "bf16", "PIXELLLM_FUSED_LAYER=async", Decoder },
        { "bf16", "PIXELLLM_FUSED_LAYER=0", Decoder },
        { "f32", "PIXELLLM_GEMV_ATTENTION=1", Decoder },
        { "bf16", "PIXELLLM_GEMV_ATTENTION=1", Decoder },
        { "bf16", "PIXELLLM_STAGED_ATTENTION=1", "Attention," + Decoder },
        { "bf16", "PIXELLLM_PREFETCH_L2=16", Decoder + ",QkvProjection,Linear,RmsNormLinear,RmsNormGeGlu" },
        { "bf16", "PIXELLLM_WARP_SOFTMAX=1", LongAttention },
        { "bf16", "PIXELLLM_STAGED_REL_POS=1", "RelPosBias," + LongAttention },
        { "bf16", "PIXELLLM_MMA_ATTENTION=1", LongAttention },
        { "f16", "PIXELLLM_MMA_ATTENTION=1", LongAttention },
        { "bf16", "PIXELLLM_GRID_ATTENTION=1", "GridAttention" },
        { "f16", "PIXELLLM_GRID_ATTENTION=1;PIXELLLM_MMA_ATTENTION=1", LongAttention },
        { "f32", "PIXELLLM_FUSED_MLP=1", "Mlp" },
        { "bf16", "PIXELLLM_FUSED_MLP=1", "Mlp" },
        { "f32", "PIXELLLM_FUSED_SWIGLU_NORM=1", "SwiGluNorm" },
        { "bf16", "PIXELLLM_FUSED_SWIGLU_NORM=1", "SwiGluNorm" },
        { "bf16", "PIXELLLM_SKINNY_GEMM=1", "Linear" },
        { "f16", "PIXELLLM_SKINNY_GEMM=1", "Linear" },
        { "bf16", "PIXELLLM_GEMM_TUNE=1", "Linear,Conv2d,GroupedLinear,MatMul" },
        { "bf16", "PIXELLLM_CUBLASLT=0", "Linear,GroupedLinear,Conv2d" },
        { "bf16", "PIXELLLM_RESIDUAL_EPILOGUE=0", "Linear,GroupedLinear" },
        { "bf16", "PIXELLLM_POINTER_GEMM=0", "Attention,GridAttention" },
        { "bf16", "PIXELLLM_FUSED_ATTENTION_FLOPS=16777216", "Attention" },
        { "bf16", "PIXELLLM_PDL=1", "Attention,Linear," + Decoder },
    };

    [Fact]
    public void EveryCheckedSwitchIsASwitchOfTheBackend()
    {
        var known = CudaSwitches.All.Select(s => s.Name).ToHashSet();
        foreach (var row in Checks())
            foreach (var assignment in ((string)row[1]).Split(';', StringSplitOptions.RemoveEmptyEntries))
                if (!assignment.StartsWith("PIXELLLM_EMULATOR_", StringComparison.Ordinal))
                    Assert.Contains(assignment[..assignment.IndexOf('=')], known);
    }

    [Theory]
    [MemberData(nameof(Checks))]
    public void BackendCheckPassesOnTheEmulator(string storage, string switches, string ops)
    {
        var args = new List<string> { "backend-check", "--backend", "cuda", "--storage", storage, "--json" };
        if (ops.Length > 0) args.AddRange(["--op", ops]);
        var environment = new Dictionary<string, string>(emulator.Environment);
        foreach (var assignment in switches.Split(';', StringSplitOptions.RemoveEmptyEntries))
            environment[assignment[..assignment.IndexOf('=')]] = assignment[(assignment.IndexOf('=') + 1)..];

        var run = Run(Cli, args, environment, TimeSpan.FromMinutes(15));
        var json = run.Output.IndexOf('{') is var start and >= 0 ? run.Output[start..] : "";
        Assert.True(json.Length > 0, $"backend-check printed no JSON (exit {run.ExitCode}):\n{Tail(run.Output)}");
        using var report = JsonDocument.Parse(json);
        var failing = report.RootElement.GetProperty("cases").EnumerateArray().Where(c => !c.GetProperty("passed").GetBoolean())
            .Select(c => $"{c.GetProperty("op").GetString()}/{c.GetProperty("case").GetString()}: " +
                         $"{(c.TryGetProperty("failure", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : c.GetProperty("error").ToString())}")
            .ToArray();
        int total = report.RootElement.GetProperty("total").GetInt32();
        output.WriteLine($"{storage} {switches}: {total - failing.Length}/{total} pass in {run.Elapsed.TotalSeconds:F0} s");
        Assert.True(failing.Length == 0, $"{failing.Length} of {total} cases fail on the emulator:\n{string.Join('\n', failing)}");
        Assert.True(total > 0, "no cases ran");
        Assert.Equal(0, run.ExitCode);
    }

    [Fact]
    public void EveryGoldenVerifiesOnTheEmulatedBackend()
    {
        var run = Run(Cli, ["verify", Golden.Root, "--backend", "cuda", "--quiet"], emulator.Isolated, TimeSpan.FromMinutes(10));
        output.WriteLine(Tail(run.Output));
        Assert.True(run.ExitCode == 0, $"verify --backend cuda failed on the emulator:\n{Tail(run.Output)}");
        Assert.Matches(@"verify: (\d+)/\1 cases pass", run.Output);
    }

    /// <summary>The cases beyond the goldens (tests/data/scenic-options: dense prompt fusion, no ln_post, 1 and 0 box points a
    /// side; tests/data/densecap-new-images) on the emulated backend too.</summary>
    [Theory]
    [InlineData("scenic-options", 5)]
    [InlineData("densecap-new-images", 2)]
    public void CasesBeyondTheGoldensVerifyOnTheEmulatedBackend(string name, int cases)
    {
        var folder = System.IO.Path.Combine(RepoRoot.Path, "tests", "data", name);
        var run = Run(Cli, ["verify", folder, "--backend", "cuda", "--quiet"], emulator.Isolated, TimeSpan.FromMinutes(10));
        Assert.True(run.ExitCode == 0, $"verify --backend cuda failed on the emulator:\n{Tail(run.Output)}");
        Assert.Contains($"verify: {cases}/{cases} cases pass", run.Output);
    }

    [Theory]
    [InlineData("f32")]
    [InlineData("bf16")]
    public void DecodeStepGraphsReplayAsTheyRanEagerly(string storage)
    {
        var run = Run(Cli, ["graph-check", "--backend", "cuda", "--config", "pixelllm-tiny", "--beams", "1,4", "--steps", "8", "--storage", storage],
            emulator.Isolated, TimeSpan.FromMinutes(5));
        output.WriteLine(Tail(run.Output));
        Assert.True(run.ExitCode == 0, $"graph-check failed on the emulator:\n{Tail(run.Output)}");
        Assert.Contains("graph-check: 2/2 decode-step shapes replay == eager", run.Output);
    }

    /// <summary>
    /// A profiled run holds its stream while the host queues the nodes (profile_hold.cu): on the emulator, whose launches
    /// run synchronously, each hold waits out its timeout, between the node brackets. So the hold's time shows in the
    /// run's wall time and in no node's device time, and the hold is neither a counted launch nor a timed kernel.
    /// </summary>
    [Fact]
    public void ProfiledRunsHoldTheStreamOutsideTheNodeTimes()
    {
        var (held, heldKernels, heldTiming) = ProfiledDecodeStep(holdMs: 40);
        var (free, _, freeTiming) = ProfiledDecodeStep(holdMs: 0);
        Assert.Contains("stream held while the host queues (holds give up after 40 ms)", heldTiming);
        Assert.Contains("launch gaps included", freeTiming);
        Assert.Equal(free.GetProperty("launches_per_run").GetDouble(), held.GetProperty("launches_per_run").GetDouble());
        double Gap(JsonElement g) => g.GetProperty("wall_ms_per_run").GetDouble() - g.GetProperty("device_ms_per_run").GetDouble();
        Assert.True(Gap(held) >= 35, $"held: wall − device {Gap(held):F1} ms per run, expected the 40 ms hold");
        Assert.True(Gap(free) < 20, $"without holds: wall − device {Gap(free):F1} ms per run");
        Assert.DoesNotContain("profile_hold", heldKernels);
    }

    private (JsonElement Graph, string[] Kernels, string NodeTiming) ProfiledDecodeStep(int holdMs)
    {
        var json = System.IO.Path.Combine(emulator.Folder, $"profile-hold-{holdMs}.json");
        var timeline = System.IO.Path.Combine(emulator.Folder, $"timeline-hold-{holdMs}.json");
        var environment = new Dictionary<string, string>(emulator.Environment) { ["PIXELLLM_PROFILE_HOLD_MS"] = $"{holdMs}" };
        var run = Run(Cli, ["bench", "--config", "pixelllm-tiny", "--random-weights", "--backend", "cuda", "--stages", "decode", "--runs", "1",
            "--profile-launches", "--profile-json", json, "--profile-timeline", timeline], environment, TimeSpan.FromMinutes(5));
        Assert.True(run.ExitCode == 0, $"bench --profile failed on the emulator:\n{Tail(run.Output)}");
        EveryLaunchLiesInsideItsNode(timeline);
        using var document = JsonDocument.Parse(File.ReadAllText(json));
        var profile = document.RootElement.GetProperty("stages")[0].GetProperty("profile");
        var kernels = profile.GetProperty("kernels").EnumerateArray().Select(k => k.GetProperty("kernel").GetString()!).ToArray();
        return (profile.GetProperty("graphs")[0].Clone(), kernels, profile.GetProperty("node_timing").GetString()!);
    }

    /// <summary>
    /// bench --kernel-trace on the emulator's CUPTI: every kernel of the timed decode steps — replayed from a recorded
    /// graph — is recorded once per step (each step the same kernels in the same order), the warm-up's are not, and a
    /// machine without CUPTI gets one line naming PIXELLLM_CUPTI.
    /// </summary>
    [Fact]
    public void KernelTraceRecordsEveryReplayedKernelOfTheTimedSteps()
    {
        var trace = System.IO.Path.Combine(emulator.Folder, "kernel-trace.json");
        var run = Run(Cli, ["bench", "--config", "pixelllm-tiny", "--random-weights", "--backend", "cuda", "--stages", "decode", "--runs", "2",
            "--kernel-trace", trace], emulator.Environment, TimeSpan.FromMinutes(5));
        Assert.True(run.ExitCode == 0, $"bench --kernel-trace failed on the emulator:\n{Tail(run.Output)}");
        Assert.Matches(@"kernel trace: \d+ kernels over [\d.]+ ms: device busy", run.Output);
        using var document = JsonDocument.Parse(File.ReadAllText(trace));
        var kernels = document.RootElement.GetProperty("traceEvents").EnumerateArray()
            .Where(e => e.TryGetProperty("cat", out var c) && c.GetString() == "kernel").Select(e => e.GetProperty("name").GetString()!).ToList();
        const int steps = 2 * 20; // --runs 2 after the warm-up, 20 decode steps each
        Assert.True(kernels.Count > 0 && kernels.Count % steps == 0, $"{kernels.Count} kernels for {steps} steps");
        int perStep = kernels.Count / steps;
        var first = kernels.Take(perStep).ToList();
        Assert.Contains("gemv_f32_r1", first);
        Assert.Contains("attention_decode_f32", first);
        for (int step = 1; step < steps; step++) Assert.Equal(first, kernels.Skip(step * perStep).Take(perStep));

        var without = new Dictionary<string, string>(emulator.Environment) { ["PIXELLLM_CUPTI"] = "/nonexistent/libcupti.so" };
        var missing = Run(Cli, ["bench", "--config", "pixelllm-tiny", "--random-weights", "--backend", "cuda", "--stages", "decode", "--runs", "1",
            "--kernel-trace", trace + ".2"], without, TimeSpan.FromMinutes(5));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("PIXELLLM_CUPTI=/nonexistent/libcupti.so could not be loaded", missing.Output);
        Assert.False(File.Exists(trace + ".2"));
    }

    /// <summary>
    /// On the timeline, the event pairs' starts put every timed launch inside a node (both read off the stream's events),
    /// in launch order, and no two nodes overlap.
    /// </summary>
    private static void EveryLaunchLiesInsideItsNode(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var events = document.RootElement.GetProperty("traceEvents").EnumerateArray().Where(e => e.GetProperty("ph").GetString() == "X")
            .Select(e => (Cat: e.GetProperty("cat").GetString(), Ts: e.GetProperty("ts").GetDouble(), End: e.GetProperty("ts").GetDouble() + e.GetProperty("dur").GetDouble()))
            .ToList();
        var nodes = events.Where(e => e.Cat == "node").OrderBy(e => e.Ts).ToList();
        var launches = events.Where(e => e.Cat == "launch").ToList();
        Assert.NotEmpty(launches);
        for (int i = 1; i < nodes.Count; i++) Assert.True(nodes[i - 1].End <= nodes[i].Ts + 1e-9, $"nodes {i - 1} and {i} overlap");
        // cuEventElapsedTime gives float milliseconds: over a run of tens of ms that is a few ns either way (µs here).
        const double eventResolution = 0.05;
        Assert.All(launches, l => Assert.Contains(nodes, n => n.Ts <= l.Ts + eventResolution && l.End <= n.End + eventResolution));
        Assert.Equal(launches.Select(l => l.Ts).Order(), launches.Select(l => l.Ts));
    }

    private static string Tail(string text) => ChildProcess.Tail(text);

    private static (int ExitCode, string Output, TimeSpan Elapsed) Run(string file, IEnumerable<string> args, Dictionary<string, string> environment,
        TimeSpan limit) => ChildProcess.Run(file, args, environment, limit);
}
