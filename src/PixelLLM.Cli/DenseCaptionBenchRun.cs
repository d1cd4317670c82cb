using System.Diagnostics;
using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// <c>pixelllm bench --task densecap</c>: one image's dense captioning of K boxes stage by stage next to ONE caption's
/// per-box stages, and the ratio K-box captioning ÷ (K × single caption). Warm-up (untimed): the encoders, the box
/// decoder and the single-box stages once — every random weight is generated and the single-box graphs compiled; the
/// K-row graphs compile inside the first timed run, so best-of-N with N ≥ 2 excludes their compilation.
/// </summary>
internal static class DenseCaptionBenchRun
{
    /// <summary>The measured stages, in the order they run.</summary>
    internal static readonly string[] StageKeys = ["encoders", "proposals", "adapter.k", "t5-encode.k", "decode.k", "adapter.1", "t5-encode.1", "decode.1"];

    /// <summary>The results of a run: per-stage timings, K, and the headline ratio (for tests and the JSON).</summary>
    internal sealed record Result(IReadOnlyList<StageTiming> Stages, int Boxes, double BatchedMs, double SingleMs, double Ratio, bool SlotZeroMatchesSingle);

    public static Result Run(string configName, string backendName, DType weightType, int runs, int seed, int? boxes, string? jsonPath, TextWriter o)
    {
        var config = BenchConfigs.Get(configName);
        using var backend = Backends.Create(backendName, weightType);
        string loadBefore = BenchTimer.LoadAverage();
        using var bench = new DenseCaptionBench(config, weightType, seed, backend, boxes);
        int k = bench.Config.BoxDecoder!.NumDetections, steps = bench.DecodeSteps;
        o.WriteLine($"pixelllm bench --task densecap: {configName}, random weights (seed {seed}), backend {backend.Name}, weights {weightType}, " +
                    $"{Environment.ProcessorCount} cores, K = {k} boxes, {steps} greedy KV-cache steps per caption, best/median of {runs} after 1 warm-up; " +
                    $"load average {loadBefore}");
        o.WriteLine($"  forced for random weights: roi_post_nms_num_detections = {k}, final RoI NMS off (IoU threshold 1), so every slot is a real proposal's box");

        var clock = new StageClock(StageKeys);
        bool slotZeroMatches = true;
        int realBoxes = 0, positive = 0;
        for (int run = 0; run <= runs; run++)
        {
            bool timed = run > 0;
            var features = clock.Time("encoders", bench.EncodeImage, timed);
            var detections = clock.Time("proposals", () => bench.Detect(features), timed);
            realBoxes = Enumerable.Range(0, detections.Slots).Count(i => detections.Boxes.AsSpan(4 * i, 4).ContainsAnyExcept(0f));
            positive = detections.NumDetections;
            if (timed)
            {
                var visual = clock.Time("adapter.k", () => bench.AdaptPrompts(features, DenseCaptionBench.Boxes(detections)), true);
                var encoded = clock.Time("t5-encode.k", () => bench.EncodeText(visual), true);
                var batched = clock.Time("decode.k", () => bench.Decode(encoded), true);
                var single = SingleCaption(bench, features, detections, clock, true);
                slotZeroMatches &= batched.Raw[0].AsSpan().SequenceEqual(single.Raw[0]);
            }
            else SingleCaption(bench, features, detections, clock, false);
        }

        var wall = clock.Wall;
        var results = StageKeys.Select(key => new StageTiming(Label(key, k, steps, bench), wall[key].Min(), BenchTimer.Median(wall[key]),
            BenchTimer.Median(clock.Cpu[key]), runs, key.StartsWith("decode", StringComparison.Ordinal) ? $"{wall[key].Min() / steps:F1} ms/step (best)" : "")).ToList();
        foreach (var r in results)
            o.WriteLine($"  {r.Stage,-52} best {r.BestMs,10:F1} ms   median {r.MedianMs,10:F1} ms   cpu {r.CpuMs,10:F1} ms{(r.Note.Length > 0 ? "   " + r.Note : "")}");

        double batchedMs = BestSum(wall, "adapter.k", "t5-encode.k", "decode.k"), singleMs = BestSum(wall, "adapter.1", "t5-encode.1", "decode.1");
        double ratio = batchedMs / (k * singleMs);
        double request = BestSum(wall, "encoders", "proposals") + batchedMs;
        o.WriteLine($"  slots with a box: {realBoxes} of {k} ({positive} above the score threshold); slot 0 batched == single caption: {(slotZeroMatches ? "yes" : "NO")}");
        o.WriteLine($"  captions of {k} boxes (adapter + T5 encode + decode, batched): {batchedMs:F1} ms; one caption: {singleMs:F1} ms; " +
                    $"ratio {k}-box ÷ ({k} × single) = {ratio:F3}");
        foreach (var (name, b, s) in new[] { ("prompt adapter", "adapter.k", "adapter.1"), ("T5 encoder", "t5-encode.k", "t5-encode.1"), ("decode", "decode.k", "decode.1") })
            o.WriteLine($"    {name,-16} {k}-box ÷ ({k} × single) = {wall[b].Min() / (k * wall[s].Min()):F3}");
        o.WriteLine($"  dense captioning request (encoders once + proposals + {k} captions): {request:F1} ms");
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        string loadAfter = BenchTimer.LoadAverage();
        o.WriteLine($"  weights generated {bench.Weights.MaterialisedBytes / 1e9:F2} GB of {bench.Weights.TotalBytes / 1e9:F2} GB; " +
                    $"peak resident memory {peak / 1e9:F2} GB; load average after {loadAfter}");
        var result = new Result(results, k, batchedMs, singleMs, ratio, slotZeroMatches);
        if (jsonPath is not null) WriteJson(jsonPath, configName, backend.Name, weightType, runs, seed, loadBefore, loadAfter, peak, realBoxes, request, result);
        return result;
    }

    private static Models.DecodedText SingleCaption(DenseCaptionBench bench, Models.ImageFeatures features, Models.DenseCaptioning.Detections detections,
        StageClock clock, bool record)
    {
        var visual = clock.Time("adapter.1", () => bench.AdaptPrompts(features, DenseCaptionBench.Box(detections, 0)), record);
        var encoded = clock.Time("t5-encode.1", () => bench.EncodeText(visual), record);
        return clock.Time("decode.1", () => bench.Decode(encoded), record);
    }

    /// <summary>Wall and process-CPU milliseconds of every recorded call, per stage.</summary>
    private sealed class StageClock(IEnumerable<string> keys)
    {
        public Dictionary<string, List<double>> Wall { get; } = keys.ToDictionary(k => k, _ => new List<double>());
        public Dictionary<string, List<double>> Cpu { get; } = keys.ToDictionary(k => k, _ => new List<double>());

        public T Time<T>(string key, Func<T> work, bool record)
        {
            var (result, wall, cpu) = DenseCaptionBench.Time(work);
            if (record) { Wall[key].Add(wall); Cpu[key].Add(cpu); }
            return result;
        }
    }

    private static string Label(string key, int k, int steps, DenseCaptionBench bench) => key switch
    {
        "encoders" => "shared image encoders (SAM + EVA02 + fusion), once",
        "proposals" => $"proposals + RoI head → {k} slots",
        "adapter.k" => $"prompt adapter + projection, {k} boxes",
        "t5-encode.k" => $"T5 encoder, {k} rows × {bench.Config.VisualTokens + BenchStages.ContextTokens}",
        "decode.k" => $"greedy decode, {k} rows × {steps} steps",
        "adapter.1" => "single caption: prompt adapter + projection",
        "t5-encode.1" => "single caption: T5 encoder, 1 row",
        "decode.1" => $"single caption: greedy decode, {steps} steps",
        _ => key,
    };

    private static double BestSum(Dictionary<string, List<double>> wall, params string[] keys) =>
        Enumerable.Range(0, wall[keys[0]].Count).Min(i => keys.Sum(key => wall[key][i]));

    private static void WriteJson(string path, string config, string backend, DType weights, int runs, int seed, string loadBefore, string loadAfter,
        long peak, int realBoxes, double requestMs, Result result) =>
        OutputFile.Write("--json", path, stream => WriteJson(stream, config, backend, weights, runs, seed, loadBefore, loadAfter, peak, realBoxes, requestMs, result));

    private static void WriteJson(Stream stream, string config, string backend, DType weights, int runs, int seed, string loadBefore, string loadAfter,
        long peak, int realBoxes, double requestMs, Result result)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteString("task", "densecap");
        BenchJson.WriteRunHeader(w, config, backend, weights, runs, seed, loadBefore, loadAfter, peak);
        w.WriteNumber("boxes", result.Boxes);
        w.WriteNumber("slots_with_a_box", realBoxes);
        w.WriteNumber("captions_batched_ms", Math.Round(result.BatchedMs, 2));
        w.WriteNumber("single_caption_ms", Math.Round(result.SingleMs, 2));
        w.WriteNumber("ratio_batched_over_k_singles", Math.Round(result.Ratio, 4));
        w.WriteNumber("request_ms", Math.Round(requestMs, 2));
        w.WriteBoolean("slot0_batched_equals_single", result.SlotZeroMatchesSingle);
        w.WriteStartArray("stages");
        foreach (var (r, key) in result.Stages.Zip(StageKeys)) BenchJson.WriteStage(w, r, key);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
