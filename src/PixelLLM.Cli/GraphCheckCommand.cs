using System.CommandLine;
using PixelLLM.Backends.Cuda;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Cli;

/// <summary>
/// <c>pixelllm graph-check --backend cuda [--config pixelllm-tiny] [--beams 1,4] [--steps 20] [--storage f32|bf16]</c>:
/// the decode step replayed from a CUDA graph against the same step launched eagerly (<see cref="GraphReplayCheck"/>).
/// Exit code 0 when every beam setting agrees and was really replayed, 1 otherwise.
/// </summary>
internal static class GraphCheckCommand
{
    public static Command Create()
    {
        var backend = new Option<string>("--backend") { Description = "the backend that records graphs (cuda)", DefaultValueFactory = _ => "cuda" };
        var config = new Option<string>("--config") { Description = $"model configuration: {string.Join(", ", BenchConfigs.Names)}", DefaultValueFactory = _ => "pixelllm-tiny" };
        var beams = new Option<string>("--beams") { Description = "comma-separated beam counts, one decode-step shape each (default 1,4)", DefaultValueFactory = _ => "1,4" };
        var steps = new Option<int>("--steps") { Description = "decode steps per beam setting (default 20)", DefaultValueFactory = _ => 20 };
        var storage = new Option<string>("--storage") { Description = "CUDA storage of f32 tensors: f32 (default) or bf16", DefaultValueFactory = _ => "f32" };
        var seed = new Option<int>("--seed") { Description = "weight and input seed (default 1)", DefaultValueFactory = _ => 1 };
        var command = new Command("graph-check", "Check that the CUDA-graph replay of a decode step gives the eager step's logits")
        {
            backend, config, beams, steps, storage, seed,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var floatStorage = parse.GetValue(storage) switch
            {
                "f32" => DType.F32,
                "bf16" => DType.BF16,
                var s => throw new InvalidInputException($"--storage: '{s}' is not f32 or bf16"),
            };
            var beamCounts = Beams(parse.GetValue(beams)!);
            int stepCount = parse.GetValue(steps);
            if (stepCount < 2) throw new InvalidInputException("--steps must be at least 2 (the first step runs eagerly, the rest replay)");
            var name = parse.GetValue(backend)!;
            using IBackend device = name == "cuda" ? CudaBackend.Create(floatStorage) : Backends.Create(name);
            if (device is not IGraphCaptureBackend { CaptureEnabled: true })
                throw new BackendException(name == "cuda"
                    ? $"graph-check: this CUDA driver has no graph API, or {CudaBackend.GraphsVariable}=0 switched capture off"
                    : $"graph-check: backend {name} does not record graphs (use --backend cuda)");
            return Run(device, parse.GetValue(config)!, beamCounts, stepCount, parse.GetValue(seed), parse.InvocationConfiguration.Output);
        }));
        return command;
    }

    internal static int Run(IBackend device, string configName, IReadOnlyList<int> beams, int steps, int seed, TextWriter o)
    {
        var config = BenchConfigs.Get(configName);
        var weights = GraphReplayCheck.Weights(config, DType.F32, seed);
        var results = beams.Select(b => GraphReplayCheck.Run(device, config, weights, b, steps, seed)).ToList();
        foreach (var r in results) o.WriteLine($"  {r}");
        o.WriteLine($"graph-check: {results.Count(r => r.Passed)}/{results.Count} decode-step shapes replay == eager ({configName}, {Describe(device)})");
        return results.All(r => r.Passed) ? 0 : 1;
    }

    private static string Describe(IBackend device) => device is CudaBackend cuda ? $"{cuda.DeviceDescription}, storage {cuda.FloatStorage}" : device.Name;

    internal static int[] Beams(string list)
    {
        var parts = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var beams = parts.Select(p => int.TryParse(p, out int b) && b >= 1 ? b : throw new InvalidInputException($"--beams: '{p}' is not a positive integer")).ToArray();
        return beams.Length > 0 ? beams : throw new InvalidInputException("--beams: give at least one beam count");
    }
}
