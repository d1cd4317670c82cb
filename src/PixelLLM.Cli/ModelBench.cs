using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Cli;

/// <summary>
/// <c>pixelllm bench --model DIR [--request JSON]…</c>: a model directory timed through the public API, exactly as
/// <c>caption</c>, <c>refer</c>, <c>segment</c>, <c>densecap</c> and <c>serve</c> run it (its stored precision, its tasks'
/// own decoding). Each request (one line of <c>serve</c>'s input) is run once cold (kernels, graphs) and then
/// <c>--runs</c> times; the phases come from the request's own stage events.
/// </summary>
internal sealed class ModelBench(PixelLlmModel model, int runs, BenchProfiling? profiling)
{
    /// <summary>The request benched when none is given: a caption of the bundled scene, the task's own beams.</summary>
    public const string DefaultRequest = """{"task":"caption"}""";

    /// <summary>One request's results beyond its <see cref="StageTiming"/>, for the JSON file.</summary>
    public sealed record Details(double FirstMs, int Tokens, int Positions, IReadOnlyList<(string Name, double WallMs, double CpuMs)> Phases);

    public static int Run(string modelDirectory, PixelLlmOptions options, IReadOnlyList<string> requestLines, int runs, string? jsonPath, string? baselinePath,
        BenchProfiling? profiling, TextWriter o)
    {
        var baseline = baselinePath is null ? null : BenchBaseline.Load(baselinePath);
        var requests = requestLines.Select((line, i) => Parse(line, requestLines.Count == 1 ? "--request" : $"--request #{i + 1}")).ToList();
        var images = requests.Select(r => r.LoadImage(options.MaxImagePixels)).ToList();
        string loadBefore = BenchTimer.LoadAverage();
        var clock = Stopwatch.StartNew();
        using var model = PixelLlmModel.Load(modelDirectory, options with { Profiler = profiling?.Profiler });
        double loadMs = clock.Elapsed.TotalMilliseconds;
        foreach (var r in requests)
            if (!Supports(model, r.Task)) throw new InvalidInputException($"--request: {modelDirectory} cannot run task '{r.Task}' (its config has no {Needs(r.Task)})");
        var cuda = model.Device as PixelLLM.Backends.Cuda.CudaBackend;
        string precision = ModelPrecision.Label(model.Precision);
        o.WriteLine($"pixelllm bench: model {(model.Name is { } name ? $"{name} ({modelDirectory})" : modelDirectory)}, backend {model.BackendName}, precision {precision}, " +
                    $"{Environment.ProcessorCount} cores, best/median of {runs} after 1 cold run; load average {loadBefore}; switches: {BenchJson.SwitchesLine()}" +
                    (cuda is null ? "" : $"; tuned profile: {cuda.Switches.TunedStatus}"));
        o.WriteLine($"  {"load (config, weights mapped, backend)",-44} {loadMs,10:F1} ms");

        var bench = new ModelBench(model, runs, profiling);
        var results = new List<StageTiming>();
        var details = new List<Details>();
        long deviceMemoryUsed = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            var (timing, detail) = bench.Measure(requests[i], images[i], $"request{i + 1}");
            results.Add(timing);
            details.Add(detail);
            if (cuda is not null) deviceMemoryUsed = Math.Max(deviceMemoryUsed, cuda.DeviceMemory().Used);
            o.WriteLine($"  {timing.Stage,-44} best {timing.BestMs,10:F1} ms   median {timing.MedianMs,10:F1} ms   cpu {timing.CpuMs,10:F1} ms   {timing.Note}");
            profiling?.StageDone($"request{i + 1}", decodes: true);
        }
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        string loadAfter = BenchTimer.LoadAverage();
        o.WriteLine($"  peak resident memory {peak / 1e9:F2} GB; " +
                    (cuda is null ? "" : $"device memory in use {deviceMemoryUsed / 1e9:F2} GB of {cuda.DeviceMemory().Total / 1e9:F2} GB; ") + $"load average after {loadAfter}");
        if (baseline is not null) BenchBaseline.Print(o, baselinePath!, baseline, results);
        profiling?.Finish();
        if (jsonPath is not null)
            OutputFile.Write("--json", jsonPath, stream => WriteJson(stream, model, modelDirectory, precision, runs, loadBefore, loadAfter, peak, loadMs, results, details, cuda, deviceMemoryUsed));
        return 0;
    }

    /// <summary>
    /// A request line as <c>serve</c> takes it; without "image" or "image_base64" it gets the bundled scene. Every field is
    /// checked here, before the model is loaded.
    /// </summary>
    internal static ServeRequest Parse(string line, string where)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(line, documentOptions: ServeRequest.JsonOptions); }
        catch (JsonException e) { throw new InvalidInputException($"{where}: {ServeRequest.Describe(e)}"); }
        if (node is not JsonObject request) throw new InvalidInputException($"{where}: expected a JSON object like {DefaultRequest}");
        if (!request.ContainsKey("image") && !request.ContainsKey("image_base64")) request["image"] = BundledImage();
        try
        {
            var parsed = ServeRequest.Parse(request.ToJsonString(), out _);
            return parsed.Task == "info" ? throw new InvalidInputException("request field 'task': info has nothing to time") : parsed;
        }
        catch (InvalidInputException e) { throw new InvalidInputException($"{where}: {e.Message}"); }
    }

    private static string BundledImage()
    {
        // The repository this CLI was built in, else the one the command runs in (a published CLI lives elsewhere).
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            if (RequestOptionsCli.RepositoryRoot(start) is { } root && Path.Combine(root, "samples", "scene_2000001.png") is var path && File.Exists(path))
                return path;
        throw new InvalidInputException("--request: no \"image\" given and the bundled samples/scene_2000001.png is not found (name an image in the request)");
    }

    /// <summary>The tasks <c>serve</c>'s info lists for this model.</summary>
    private static bool Supports(PixelLlmModel model, string task) => task switch
    {
        "refer" => model.HasPointHead,
        "segment" => model.CanSegment,
        "densecap" => model.CanDenseCaption,
        _ => true,
    };

    private static string Needs(string task) => task switch
    {
        "refer" => "point head",
        "segment" => "mask branch (mask_adapter / mask_decoder)",
        _ => "box decoder",
    };

    private (StageTiming, Details) Measure(ServeRequest request, PixelImage image, string key)
    {
        var phases = new PhaseClock(model.Device as IHostActivitySource);
        string stage = "setup";
        int tokens = 0, positions = 0;
        var options = new RequestOptions
        {
            Beams = request.Beams,
            OnEvent = e =>
            {
                if (e is StageStarted started) { phases.Lap(stage); stage = started.Stage; }
                else if (e is TokenDecoded token) { tokens++; positions = Math.Max(positions, token.Position); }
            },
        };
        void Once()
        {
            (stage, tokens, positions) = ("setup", 0, 0);
            phases.Restart();
            ServeProtocol.Execute(model, request, image, options);
            phases.Lap(stage);
        }

        profiling?.StageStarted(key);
        var cold = Stopwatch.StartNew();
        Once();
        double firstMs = cold.Elapsed.TotalMilliseconds;
        string? fastest = null;
        List<(string, double, double)> fastestPhases = [];
        double fastestMs = double.MaxValue;
        var timing = BenchTimer.Measure(Describe(request, image), runs, warmUp: false, afterWarmUp: () => profiling?.Profiler.Reset(), work: () =>
        {
            Once();
            if (phases.TotalMs < fastestMs) (fastestMs, fastest, fastestPhases) = (phases.TotalMs, phases.ToString(), [.. phases.Laps]);
        });
        var decodeMs = fastestPhases.Where(p => p.Item1 == "decode").Sum(p => p.Item2);
        string perPosition = positions > 0 && decodeMs > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({decodeMs / positions:F2} ms each)") : "";
        string decoded = tokens > 0 ? $"{tokens} tokens, decode over {positions} positions{perPosition}; " : "";
        var note = $"cold {firstMs:F1} ms; {decoded}fastest run, wall/cpu ms: {fastest}";
        var phaseTotals = fastestPhases.GroupBy(p => p.Item1).Select(g => (g.Key, g.Sum(p => p.Item2), g.Sum(p => p.Item3))).ToList();
        return (timing with { Note = note }, new Details(firstMs, tokens, positions, phaseTotals));
    }

    /// <summary>The stage name: the task, the image's file name and the prompts (stable, so that --baseline matches it).</summary>
    private static string Describe(ServeRequest r, PixelImage image)
    {
        var parts = new List<string> { r.Task, Path.GetFileName(image.Source) };
        parts.AddRange(r.Boxes.Select(b => string.Create(CultureInfo.InvariantCulture, $"[{b.X0:G4},{b.Y0:G4},{b.X1:G4},{b.Y1:G4}]")));
        parts.AddRange(r.Texts.Select(t => $"\"{t.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\""));
        if (r.Beams is int beams) parts.Add($"beams {beams}");
        if (r.DecodeText) parts.Add("decode_text");
        if (r.TeacherForced) parts.Add("teacher_forced");
        return string.Join(' ', parts);
    }

    private static void WriteJson(Stream stream, PixelLlmModel model, string directory, string precision, int runs, string loadBefore, string loadAfter, long peak,
        double loadMs, IReadOnlyList<StageTiming> results, IReadOnlyList<Details> details, PixelLLM.Backends.Cuda.CudaBackend? cuda, long deviceMemoryUsed)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        BenchJson.WriteRunHeader(w, model.Name ?? directory, model.BackendName, precision, runs, seed: null, loadBefore, loadAfter, peak);
        w.WriteString("model_directory", Path.GetFullPath(directory));
        w.WriteNumber("load_ms", Math.Round(loadMs, 2));
        if (cuda is not null)
        {
            w.WriteNumber("device_memory_used_bytes", deviceMemoryUsed);
            w.WriteString("device", cuda.DeviceDescription);
            w.WriteString("tuned_profile", cuda.Switches.TunedStatus);
        }
        w.WriteStartArray("stages");
        for (int i = 0; i < results.Count; i++)
            BenchJson.WriteStage(w, results[i], $"request{i + 1}", extra =>
            {
                var d = details[i];
                extra.WriteNumber("cold_ms", Math.Round(d.FirstMs, 2));
                extra.WriteNumber("tokens", d.Tokens);
                extra.WriteNumber("decode_positions", d.Positions);
                extra.WriteStartObject("fastest_run_phases_ms");
                foreach (var (name, wall, _) in d.Phases) extra.WriteNumber(name, Math.Round(wall, 2));
                extra.WriteEndObject();
            });
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
