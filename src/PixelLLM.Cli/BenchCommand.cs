using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// <c>pixelllm bench --config NAME --random-weights [--backend cpu] [--dtype f32|bf16]</c>: per-stage latency of a caption
/// request (best and median of <c>--runs</c> after a warm-up) and the process's peak memory. A benchmark, not a test:
/// the weights are random, so only the times and sizes mean anything. <c>--model DIR</c> times a model directory's own
/// requests instead (<see cref="ModelBench"/>).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = $"model configuration, with --random-weights: {string.Join(", ", BenchConfigs.Names)}" };
        var random = new Option<bool>("--random-weights") { Description = "seeded random weights of --config's sizes, each stage of a caption timed alone" };
        var shared = new RequestOptionsCli();
        var model = new Option<string?>("--model")
        {
            Description = "instead of --config: a model directory, timed through the API as the request commands and serve run it (its precision, its tasks' decoding)",
        };
        var request = new Option<string[]>("--request")
        {
            Description = $"--model: a request to time, one line of serve's input (repeat for several; default {ModelBench.DefaultRequest}; without \"image\" the bundled scene)",
        };
        var backend = new Option<string>("--backend") { Description = "cpu (default), cpu-f64 (GEMMs summed in float64; slower) or cuda", DefaultValueFactory = _ => "cpu" };
        var dtype = new Option<string>("--dtype") { Description = "f32 (default) or bf16: weight matrices on the CPU (f32 compute); every float tensor (weights and activations, f32 accumulation) on CUDA", DefaultValueFactory = _ => "f32" };
        var runs = new Option<int>("--runs") { Description = "timed runs per stage after one warm-up (default 3)", DefaultValueFactory = _ => 3 };
        var seed = new Option<int>("--seed") { Description = "weight and input seed (default 1)", DefaultValueFactory = _ => 1 };
        var only = new Option<string?>("--stages") { Description = "comma-separated subset: sam,eva02,vision,adapter,t5-encode,decode,decode4,rerun,e2e (default all of these), vision4 (the vision graph over 4 images in one batch), e2e4 (4 images in one batch)" };
        var json = new Option<string?>("--json") { Description = "also write the results as JSON to this file" };
        var profile = new Option<bool>("--profile") { Description = "time every op of every stage on the device (graph capture off) and print a per-op table after each stage" };
        var profileJson = new Option<string?>("--profile-json") { Description = "write the per-stage, per-op profiles as JSON to this file (implies profiling)" };
        var profileLaunches = new Option<bool>("--profile-launches") { Description = RequestOptionsCli.ProfileLaunchesDescription };
        var kernelTrace = new Option<string?>("--kernel-trace")
        {
            Description = "--backend cuda: record every kernel of each stage's timed runs with CUPTI (CUDA-graph replays included), print how busy the device " +
                "was and write the kernels' timeline to this file (Chrome trace-event JSON for ui.perfetto.dev); needs libcupti ($PIXELLLM_CUPTI)",
        };
        var profileTimeline = new Option<string?>("--profile-timeline") { Description = RequestOptionsCli.ProfileTimelineDescription + "; each stage a section" };
        var task = new Option<string>("--task") { Description = "caption (default) or densecap (K boxes batched next to one caption; densecap configs)", DefaultValueFactory = _ => "caption" };
        var boxes = new Option<int?>("--boxes") { Description = "--task densecap: K detection slots (default: the config's roi_post_nms_num_detections)" };
        var depth = new Option<int?>("--depth") { Description = "cap every transformer stack at this many blocks (a mid-size model with the real widths)" };
        var baseline = new Option<string?>("--baseline") { Description = "an earlier run's --json file: print each stage against it (best ms, change, speed-up)" };
        var command = new Command("bench", "Per-stage latency and peak memory of a caption or dense captioning request on random weights, or of a model directory's requests")
        {
            config, random, model, request, backend, shared.Precision, shared.Threads, dtype, runs, seed, only, json, profile, profileJson, profileLaunches, profileTimeline,
            kernelTrace, task, boxes, depth, baseline,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            string? modelDirectory = parse.GetValue(model);
            if ((modelDirectory is null) == (parse.GetValue(config) is null))
                throw new InvalidInputException("bench: give either --config NAME --random-weights (generated weights, stage by stage) or --model DIR (a model directory's requests)");
            Option[] randomOnly = [random, dtype, seed, only, task, boxes, depth, kernelTrace];
            Option[] modelOnly = [request, shared.Precision, shared.Threads];
            foreach (var o in modelDirectory is null ? modelOnly : randomOnly)
                if (parse.GetResult(o) is { Implicit: false })
                    throw new InvalidInputException($"bench: {o.Name} applies to {(modelDirectory is null ? "--model DIR" : "--config NAME --random-weights")} only");
            if (modelDirectory is null && !parse.GetValue(random)) throw new InvalidInputException("bench: --config needs --random-weights (or time a model directory with --model DIR)");
            var weightType = parse.GetValue(dtype) switch
            {
                "f32" => DType.F32,
                "bf16" => DType.BF16,
                var other => throw new InvalidInputException($"--dtype: unknown '{other}' (expected f32 or bf16)"),
            };
            int n = parse.GetValue(runs);
            if (n is < 1 or > MaxRuns) throw new InvalidInputException($"--runs must be from 1 to {MaxRuns}, got {n}");
            var output = parse.InvocationConfiguration.Output;
            bool launches = parse.GetValue(profileLaunches), table = parse.GetValue(profile) || launches;
            string? profileJsonPath = parse.GetValue(profileJson), timelinePath = parse.GetValue(profileTimeline), kernelTracePath = parse.GetValue(kernelTrace);
            if (kernelTracePath is not null && parse.GetValue(backend) != "cuda") throw new InvalidInputException("--kernel-trace needs --backend cuda (CUPTI records a GPU's kernels)");
            OutputFile.CheckAll([("--profile-json", profileJsonPath), ("--profile-timeline", timelinePath), ("--kernel-trace", kernelTracePath), ("--json", parse.GetValue(json))],
                parse.GetValue(model));
            var profiling = table || profileJsonPath is not null || timelinePath is not null
                ? new BenchProfiling(table ? output : null, profileJsonPath, launches, timelinePath) : null;
            if (modelDirectory is not null)
            {
                var args = new RequestArgs("", modelDirectory, parse.GetValue(backend)!, null, null, null, parse.GetValue(shared.Threads), Precision: parse.GetValue(shared.Precision)!);
                RequestRun.CheckCounts(args);
                var requests = parse.GetValue(request) is { Length: > 0 } given ? given : [ModelBench.DefaultRequest];
                return ModelBench.Run(modelDirectory, args.ModelOptions(), requests, n, parse.GetValue(json), parse.GetValue(baseline), profiling, output);
            }
            switch (parse.GetValue(task))
            {
                case "densecap":
                    if (profiling is not null || kernelTracePath is not null)
                        throw new InvalidInputException("--profile, --profile-json, --profile-launches, --profile-timeline and --kernel-trace apply to --task caption only");
                    DenseCaptionBenchRun.Run(parse.GetValue(config)!, parse.GetValue(backend)!, weightType, n, parse.GetValue(seed), parse.GetValue(boxes), parse.GetValue(json), output);
                    return 0;
                case "caption":
                    if (parse.GetValue(boxes) is not null) throw new InvalidInputException("--boxes applies to --task densecap only");
                    break;
                case var other:
                    throw new InvalidInputException($"--task: unknown '{other}' (expected caption or densecap)");
            }
            var stages = Stages(parse.GetValue(only));
            return Run(parse.GetValue(config)!, parse.GetValue(backend)!, weightType, n, parse.GetValue(seed), stages, parse.GetValue(json), output, profiling, parse.GetValue(depth),
                parse.GetValue(baseline), kernelTracePath);
        }));
        return command;
    }

    /// <summary>Timed runs per stage a bench takes: enough for any distribution, few enough that their times fit in memory.</summary>
    private const int MaxRuns = 100_000;

    private static readonly string[] DefaultStages = ["sam", "eva02", "vision", "adapter", "t5-encode", "decode", "decode4", "rerun", "e2e"];

    /// <summary>The default stages and the ones run only when named (a 4-image batch is 4 requests' work).</summary>
    private static readonly string[] AllStages = [.. DefaultStages, "vision4", "e2e4"];

    internal static HashSet<string> Stages(string? list)
    {
        if (string.IsNullOrWhiteSpace(list)) return [.. DefaultStages];
        var chosen = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        if (chosen.Count == 0) throw new InvalidInputException($"--stages: no stage named in '{list}' (expected some of {string.Join(",", AllStages)})");
        var unknown = chosen.Except(AllStages).ToList();
        if (unknown.Count > 0) throw new InvalidInputException($"--stages: unknown '{string.Join("', '", unknown)}' (expected {string.Join(",", AllStages)})");
        return chosen;
    }

    internal static int Run(string configName, string backendName, DType weightType, int runs, int seed, HashSet<string> stages, string? jsonPath, TextWriter o,
        BenchProfiling? profiling = null, int? depth = null, string? baselinePath = null, string? kernelTracePath = null)
    {
        var baseline = baselinePath is null ? null : BenchBaseline.Load(baselinePath);
        var config = BenchConfigs.Get(configName);
        if (depth is int d) config = BenchConfigs.WithDepth(config, d);
        if (config.PointHead is null && (stages.Contains("rerun") || stages.Contains("e2e") || stages.Contains("e2e4")))
            throw new InvalidInputException($"bench: '{configName}' has no point head, so the rerun and e2e stages do not exist (name --stages, or use --task densecap)");
        var kernelTrace = kernelTracePath is null ? null : new BenchKernelTrace(kernelTracePath, o);
        var device = Backends.Create(backendName, weightType);
        var cuda = device as PixelLLM.Backends.Cuda.CudaBackend;
        using var backend = profiling is null ? device : profiling.Profiler.Wrap(device);
        long deviceMemoryUsed = 0; // the most device memory in use after any stage (cuMemGetInfo: context, weights, arenas, scratch)
        string loadBefore = BenchTimer.LoadAverage();
        o.WriteLine($"pixelllm bench: {configName}, random weights (seed {seed}), backend {backend.Name}, weights {weightType}, " +
                    $"{Environment.ProcessorCount} cores, best/median of {runs} after 1 warm-up; load average {loadBefore}" +
                    (depth is null ? "" : $"; stacks cut to {depth} blocks") + $"; switches: {BenchJson.SwitchesLine()}" +
                    (cuda is null ? "" : $"; tuned profile: {cuda.Switches.TunedStatus}"));
        using var bench = new BenchStages(config, weightType, seed, backend)
        {
            AfterWarmUp = profiling is null && kernelTrace is null ? null : () =>
            {
                profiling?.Profiler.Reset();
                kernelTrace?.Timed();
            },
        };
        var results = new List<StageTiming>();
        var keys = new List<string>();
        void Stage(string key, Func<StageTiming> measure)
        {
            if (!stages.Contains(key)) return;
            profiling?.StageStarted(key);
            kernelTrace?.StageStarted();
            var r = measure();
            if (cuda is not null) deviceMemoryUsed = Math.Max(deviceMemoryUsed, cuda.DeviceMemory().Used);
            results.Add(r);
            keys.Add(key);
            o.WriteLine($"  {r.Stage,-44} best {r.BestMs,10:F1} ms   median {r.MedianMs,10:F1} ms   cpu {r.CpuMs,10:F1} ms{(r.Note.Length > 0 ? "   " + r.Note : "")}");
            profiling?.StageDone(key);
            kernelTrace?.StageDone(key);
        }
        Stage("sam", () => bench.Sam(runs));
        Stage("eva02", () => bench.Eva02(runs));
        Stage("vision", () => bench.Vision(runs));
        Stage("vision4", () => bench.VisionBatch(runs, 4));
        Stage("adapter", () => bench.Adapter(runs));
        Stage("t5-encode", () => bench.T5Encoder(runs));
        Stage("decode", () => bench.DecodeStep(1, runs));
        Stage("decode4", () => bench.DecodeStep(4, runs));
        Stage("rerun", () => bench.PointRerun(runs));
        Stage("e2e", () => bench.EndToEnd(runs));
        Stage("e2e4", () => bench.EndToEnd(runs, images: 4));

        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        string loadAfter = BenchTimer.LoadAverage();
        o.WriteLine($"  weights generated {Gb(bench.Weights.MaterialisedBytes)} of {Gb(bench.Weights.TotalBytes)}; " +
                    $"peak resident memory {Gb(peak)}; " +
                    (cuda is null ? "" : $"device memory in use {Gb(deviceMemoryUsed)} of {Gb(cuda.DeviceMemory().Total)}; ") + $"load average after {loadAfter}");
        if (cuda is not null) WriteGemmTuning(cuda, o);
        if (baseline is not null) BenchBaseline.Print(o, baselinePath!, baseline, results);
        profiling?.Finish();
        kernelTrace?.Finish();
        if (jsonPath is not null) WriteJson(jsonPath, configName, backend.Name, weightType, runs, seed, loadBefore, loadAfter, peak, bench.Weights.MaterialisedBytes, results,
            keys, cuda, deviceMemoryUsed);
        return 0;
    }

    /// <summary>With $PIXELLLM_GEMM_TUNE=1: what timing cuBLASLt's candidates saved per call, largest savings first.</summary>
    private static void WriteGemmTuning(PixelLLM.Backends.Cuda.CudaBackend cuda, TextWriter o)
    {
        var tuned = cuda.GemmTuning;
        if (tuned.Count == 0) return;
        var timed = tuned.Where(t => !t.Cached).ToList();
        var changed = timed.Where(t => t.Chosen != 0).OrderByDescending(t => t.HeuristicMicroseconds - t.ChosenMicroseconds).ToList();
        o.WriteLine($"  GEMM tuning: {timed.Count} shapes timed, {changed.Count} changed from the untuned choice; " +
                    $"Σ per call {timed.Sum(t => t.HeuristicMicroseconds):F1} → {timed.Sum(t => t.ChosenMicroseconds):F1} µs; " +
                    $"{tuned.Count - timed.Count} taken from the tuning cache ({tuned.Count(t => t.Cached && t.Chosen != 0)} not the untuned choice)");
        foreach (var t in changed.Take(8))
            o.WriteLine($"    {t.Shape,-40} {t.HeuristicMicroseconds,8:F1} → {t.ChosenMicroseconds,8:F1} µs (candidate {t.Chosen} of {t.Candidates})");
    }

    private static string Gb(long bytes) => $"{bytes / 1e9:F2} GB";

    private static void WriteJson(string path, string config, string backend, DType weights, int runs, int seed, string loadBefore, string loadAfter,
        long peak, long weightBytes, IReadOnlyList<StageTiming> results, IReadOnlyList<string> keys, PixelLLM.Backends.Cuda.CudaBackend? cuda, long deviceMemoryUsed)
    {
        OutputFile.Write("--json", path, stream => WriteJson(stream, config, backend, weights, runs, seed, loadBefore, loadAfter, peak, weightBytes, results, keys, cuda, deviceMemoryUsed));
    }

    private static void WriteJson(Stream stream, string config, string backend, DType weights, int runs, int seed, string loadBefore, string loadAfter,
        long peak, long weightBytes, IReadOnlyList<StageTiming> results, IReadOnlyList<string> keys, PixelLLM.Backends.Cuda.CudaBackend? cuda, long deviceMemoryUsed)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        BenchJson.WriteRunHeader(w, config, backend, weights, runs, seed, loadBefore, loadAfter, peak);
        w.WriteNumber("weight_bytes", weightBytes);
        if (cuda is not null)
        {
            w.WriteNumber("device_memory_used_bytes", deviceMemoryUsed);
            w.WriteString("device", cuda.DeviceDescription);
            w.WriteString("tuned_profile", cuda.Switches.TunedStatus);
        }
        w.WriteStartArray("stages");
        for (int i = 0; i < results.Count; i++) BenchJson.WriteStage(w, results[i], keys[i]);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
