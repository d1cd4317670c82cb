using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Backends.Cpu;
using PixelLLM.Backends.Cuda;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Cli;

/// <summary>
/// <c>pixelllm backend-check --backend cuda [--storage bf16] [--json]</c>: every op on random inputs of odd shapes on the
/// chosen backend against the CPU backend (ggml test-backend-ops style). Tolerance: 1e-5 for f32 storage, 1e-2 for 16-bit.
/// With 16-bit storage the CPU reference stores what every op and every step of a composite op writes in that type too
/// (<see cref="CpuBackend.EmulatedStorage"/>): H200 run 11's two decoder-stack misses (1.14e-2, 1.90e-2) were exactly the
/// fp32 reference against bf16-stored values, which the CPU reproduces to three digits without a device.
/// </summary>
internal static class BackendCheckCommand
{
    public static Command Create()
    {
        var backendOption = new Option<string>("--backend") { Description = "the backend to check: cuda, or cpu (against itself)", DefaultValueFactory = _ => "cuda" };
        var storage = new Option<string>("--storage") { Description = "CUDA storage of f32 tensors: f32 (default), bf16 or f16", DefaultValueFactory = _ => "f32" };
        var json = new Option<bool>("--json") { Description = "print the results as JSON" };
        var only = new Option<string?>("--op") { Description = "check only these ops, comma-separated (e.g. Attention,T5DecoderStack)" };
        var seed = new Option<int>("--seed") { Description = "random seed of the inputs", DefaultValueFactory = _ => 1234 };
        var command = new Command("backend-check", "Compare every op on a backend with the CPU backend on random odd-shaped inputs")
        {
            backendOption, storage, json, only, seed,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var floatStorage = parse.GetValue(storage) switch
            {
                "f32" => DType.F32,
                "bf16" => DType.BF16,
                "f16" => DType.F16,
                var s => throw new InvalidInputException($"--storage: '{s}' is not f32, bf16 or f16"),
            };
            var op = parse.GetValue(only);
            var ops = OpNames(op);
            var name = parse.GetValue(backendOption)!;
            using var reference = new CpuBackend { EmulatedStorage = floatStorage };
            using IBackend candidate = name == "cuda" ? CudaBackend.Create(floatStorage) : Backends.Create(name);
            if (name != "cuda" && floatStorage != DType.F32) throw new InvalidInputException("--storage applies to --backend cuda only");
            double tolerance = floatStorage == DType.F32 ? 1e-5 : 1e-2;
            Func<float, float> round = floatStorage switch
            {
                DType.BF16 => v => BFloat16.ToSingle(BFloat16.FromSingle(v)),
                DType.F16 => v => (float)(Half)v,
                _ => v => v,
            };
            var results = BackendCheck.Run(reference, candidate, tolerance, parse.GetValue(seed), round,
                ops is null ? null : c => ops.Contains(c.Op.Name));
            if (results.Count == 0) throw new InvalidInputException($"--op: no cases for '{op}'");
            if (parse.GetValue(json)) PrintJson(results, candidate.Name, parse.GetValue(storage)!);
            else Print(results, candidate.Name, parse.GetValue(storage)!);
            return results.All(r => r.Passed) ? 0 : 1;
        }));
        return command;
    }

    /// <summary>--op's names, each of which must name an op of the catalog (a misspelt one would silently check nothing).</summary>
    internal static HashSet<string>? OpNames(string? list)
    {
        if (list is null) return null;
        var names = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var known = OpCheckCases.All.Select(c => c.Op.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var unknown = names.Where(n => !known.Contains(n)).ToList();
        if (unknown.Count > 0)
            throw new InvalidInputException($"--op: no op named '{string.Join("', '", unknown)}' in the catalog (e.g. {string.Join(",", known.Order().Take(6))}, …)");
        return names;
    }

    private static void Print(IReadOnlyList<OpCheckResult> results, string backend, string storage)
    {
        foreach (var r in results)
            Console.WriteLine($"{r.Op,-18} {r.Case,-18} {r.Error,10:0.00e+00} / {r.Tolerance:0e+00}  {(r.Passed ? "pass" : "FAIL")}  {r.Shapes}{(r.Failure is null ? "" : "  " + r.Failure)}");
        Console.WriteLine($"backend-check: {results.Count(r => r.Passed)}/{results.Count} cases pass ({backend}, storage {storage}, " +
                          $"{results.Select(r => r.Op).Distinct().Count()} ops)");
    }

    private static void PrintJson(IReadOnlyList<OpCheckResult> results, string backend, string storage)
    {
        var cases = new JsonArray();
        foreach (var r in results)
            cases.Add((JsonNode)new JsonObject
            {
                ["op"] = r.Op, ["case"] = r.Case, ["shapes"] = r.Shapes,
                ["error"] = double.IsFinite(r.Error) ? r.Error : null, ["tolerance"] = r.Tolerance,
                ["passed"] = r.Passed, ["failure"] = r.Failure,
            });
        var root = new JsonObject
        {
            ["backend"] = backend, ["storage"] = storage,
            ["passed"] = results.Count(r => r.Passed), ["total"] = results.Count, ["cases"] = cases,
        };
        Console.WriteLine(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
