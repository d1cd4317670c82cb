using System.Diagnostics;
using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Bench;

/// <summary>
/// <c>--vision</c>: the real-size vision encoders (SAM ViT-H and EVA02-L as PixelLLM runs them, 384² image) on the CPU
/// backend with seeded random weights from their parameter shape tables. Each graph is built and compiled once, run once
/// to warm up, then <c>--runs</c> times (default 3); prints median wall and process-CPU ms, the arena (planned peak vs the
/// sum of all intermediates), weight bytes and GEMM GFLOP/s, and writes the same as JSON to <c>--out</c> if given.
/// Flags: --module sam|eva02|all, --runs N, --seed N, --out PATH.
/// </summary>
internal static class VisionBench
{
    private sealed record Module(string Name, string Config, Func<IWeightSource, Graph, Tensor> Build,
        IReadOnlyDictionary<string, int[]> Shapes, int[] ExpectedOutput);

    public static int Run(string[] args)
    {
        if (!TryParse(args, out var which, out int runs, out int seed, out var outPath)) return 2;
        var modules = Modules().Where(m => which == "all" || m.Name.StartsWith(which, StringComparison.OrdinalIgnoreCase)).ToList();
        Console.WriteLine($"{Environment.ProcessorCount} cores, .NET {Environment.Version}, {runs} runs after a warm-up, load average {LoadAverage()}");

        var results = new List<VisionResult>();
        foreach (var m in modules)
        {
            var r = Measure(m, runs, seed);
            if (r is null) return 1;
            results.Add(r);
            GC.Collect();   // the previous module's weights go before the next one's are made
        }
        PrintTable(results);
        if (outPath is not null)
        {
            var report = new VisionReport(DateTime.UtcNow.ToString("u"), Environment.ProcessorCount, Environment.Version.ToString(),
                Environment.OSVersion.VersionString, runs, seed, results);
            File.WriteAllText(outPath, JsonSerializer.Serialize(report, new JsonSerializerOptions
            {
                WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            }));
            Console.WriteLine($"wrote {outPath}");
        }
        return 0;
    }

    private static IEnumerable<Module> Modules()
    {
        var sam = SamImageEncoderConfig.PixelLlmVitH;
        yield return new Module("SAM ViT-H", "embed 1280, depth 32, 16 heads, patch 16, window 14, global [7,15,23,31], tables for 1024²",
            (w, g) => SamImageEncoder.Build(new ParamScope(g, w), sam, g.Input("image", DType.F32, 1, 384, 384, 3)),
            SamImageEncoder.ParameterShapes(sam), [1, 24, 24, 256]);
        var eva = Eva02Config.PixelLlmLarge;
        yield return new Module("EVA02-L", "embed 1024, depth 24, 16 heads, patch 14, SwiGLU 2730, pos table 16×16+cls, ln_post",
            (w, g) => Eva02Encoder.Build(new ParamScope(g, w), eva, g.Input("image", DType.F32, 1, 384, 384, 3)).PatchGrid,
            Eva02Encoder.ParameterShapes(eva), [1, 27, 27, 1024]);
    }

    private static VisionResult? Measure(Module m, int runs, int seed)
    {
        string loadBefore = LoadAverage();
        var sw = Stopwatch.StartNew();
        var weights = new RandomWeights(m.Shapes, seed);
        double generateMs = sw.Elapsed.TotalMilliseconds;

        sw.Restart();
        var g = new Graph();
        g.Output("out", m.Build(weights, g));
        double buildMs = sw.Elapsed.TotalMilliseconds;

        using var backend = new CpuBackend();
        sw.Restart();
        using var exec = new GraphExecutor(g, backend);
        double compileMs = sw.Elapsed.TotalMilliseconds;
        var rng = new Random(seed);
        var image = new float[384 * 384 * 3];
        for (int i = 0; i < image.Length; i++) image[i] = (float)(rng.NextDouble() * 4 - 2);   // a normalised image's range
        exec.SetInput<float>("image", image);

        var (warmWall, warmCpu) = Timed(exec);
        var wall = new double[runs];
        var cpu = new double[runs];
        for (int i = 0; i < runs; i++) (wall[i], cpu[i]) = Timed(exec);

        var output = exec.Fetch("out");
        if (output.Shape != new Shape(m.ExpectedOutput))
        {
            Console.Error.WriteLine($"{m.Name}: output {output.Shape}, expected {new Shape(m.ExpectedOutput)}");
            return null;
        }
        var values = output.ToFloatArray();
        int nonFinite = values.Count(v => !float.IsFinite(v));
        if (nonFinite > 0) Console.Error.WriteLine($"{m.Name}: warning: {nonFinite} non-finite output values");

        double flops = GraphFlops.Count(exec.Plan.Order);
        double medianWall = Median(wall);
        var r = new VisionResult(m.Name, m.Config, [1, 384, 384, 3], output.Shape.ToArray(),
            m.Shapes.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)), weights.TotalBytes,
            exec.Plan.Order.Count, flops / 1e9, Math.Round(generateMs, 1), Math.Round(buildMs, 1), Math.Round(compileMs, 1),
            Math.Round(warmWall, 1), Math.Round(warmCpu, 1), [.. wall.Select(v => Math.Round(v, 1))], [.. cpu.Select(v => Math.Round(v, 1))],
            Math.Round(medianWall, 1), Math.Round(Median(cpu), 1), Math.Round(flops / medianWall / 1e6, 1),
            exec.Plan.PeakBytes, exec.Plan.SumBytes, Math.Sqrt(values.Average(v => (double)v * v)), loadBefore, LoadAverage());
        Console.WriteLine($"{m.Name}: runs {string.Join(", ", r.WallMs.Select(v => $"{v:F0}"))} ms wall; " +
            $"{string.Join(", ", r.CpuMs.Select(v => $"{v:F0}"))} ms CPU; load {r.LoadAverageBefore} → {r.LoadAverageAfter}");
        return r;
    }

    /// <summary>Wall and process-CPU milliseconds of one run (CPU time counts every thread of the process).</summary>
    private static (double Wall, double Cpu) Timed(GraphExecutor exec)
    {
        using var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        exec.Run();
        double wall = sw.Elapsed.TotalMilliseconds;
        process.Refresh();
        return (wall, (process.TotalProcessorTime - cpu0).TotalMilliseconds);
    }

    private static void PrintTable(IReadOnlyList<VisionResult> results)
    {
        Console.WriteLine();
        Console.WriteLine("| module | output | params | weights | GEMM GFLOP | median wall ms | median CPU ms | GFLOP/s (wall) | arena peak | intermediates sum | build / compile ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
            Console.WriteLine($"| {r.Module} | ({string.Join(", ", r.OutputShape)}) | {r.Parameters / 1e6:F1} M | {r.WeightBytes / 1e9:F2} GB | " +
                $"{r.GemmGflop:F0} | {r.MedianWallMs:F0} | {r.MedianCpuMs:F0} | {r.GflopsPerSecond:F1} | {r.ArenaPeakBytes / 1e6:F1} MB | " +
                $"{r.IntermediateSumBytes / 1e6:F1} MB | {r.BuildMs:F0} / {r.CompileMs:F0} |");
    }

    private static double Median(double[] values)
    {
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "n/a"; }
    }

    private static bool TryParse(string[] args, out string module, out int runs, out int seed, out string? outPath)
    {
        (module, runs, seed, outPath) = ("all", 3, 1, null);
        for (int i = 0; i < args.Length; i += 2)
        {
            string? value = i + 1 < args.Length ? args[i + 1] : null;
            bool ok = args[i] switch
            {
                "--module" => value is "sam" or "eva02" or "all",
                "--runs" => int.TryParse(value, out runs) && runs >= 1,
                "--seed" => int.TryParse(value, out seed),
                "--out" => value is not null,
                _ => false,
            };
            if (!ok)
            {
                Console.Error.WriteLine($"bad flag '{args[i]} {value}'; expected --module sam|eva02|all, --runs N (≥ 1), --seed N, --out PATH");
                return false;
            }
            if (args[i] == "--module") module = value!;
            if (args[i] == "--out") outPath = value;
        }
        return true;
    }
}

/// <summary>One module's measurements (the JSON rows of <c>--vision --out</c>).</summary>
internal sealed record VisionResult(string Module, string Config, int[] InputShape, int[] OutputShape, long Parameters, long WeightBytes,
    int Nodes, double GemmGflop, double WeightGenerateMs, double BuildMs, double CompileMs, double WarmupWallMs, double WarmupCpuMs,
    double[] WallMs, double[] CpuMs, double MedianWallMs, double MedianCpuMs, double GflopsPerSecond,
    long ArenaPeakBytes, long IntermediateSumBytes, double OutputRms, string LoadAverageBefore, string LoadAverageAfter);

internal sealed record VisionReport(string DateUtc, int ProcessorCount, string Runtime, string Os, int Runs, int Seed,
    IReadOnlyList<VisionResult> Modules);
