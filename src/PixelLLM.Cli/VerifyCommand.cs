using System.CommandLine;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm verify CASE</c>: run our implementation on a reference case and compare every out.*/mid.* tensor.</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var casePath = new Argument<string>("case")
        {
            Description = "case path prefix (<case>.json, <case>.weights.safetensors and <case>.io.safetensors must exist), or a folder: every case under it",
        };
        // cpu-f64 by default: a case's own float32 noise may use most of its tolerance, so our share should be as small as it can be.
        var backendOption = new Option<string>("--backend")
        {
            Description = "cpu-f64 (default: GEMMs summed in float64), cpu (the fast float32 path) or cuda",
            DefaultValueFactory = _ => "cpu-f64",
        };
        var quiet = new Option<bool>("--quiet") { Description = "print only the summary line" };
        var atol = new Option<double?>("--atol") { Description = "absolute tolerance for float tensors (default 1e-4, or the case's own)" };
        var rtol = new Option<double?>("--rtol") { Description = "relative tolerance for float tensors (default 1e-4, or the case's own)" };
        var weightsPath = new Option<string?>("--weights") { Description = "take the weights from a model directory or checkpoint file instead of the case's own" };
        var json = new Option<string?>("--json") { Description = "also write every case's tensors and errors as JSON to this file (schema pixelllm-verify/1)" };
        var command = new Command("verify", "Check the engine against a reference case (tensors within tolerance, ids exact)")
        {
            casePath, backendOption, quiet, atol, rtol, weightsPath, json,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var (a, r) = (CheckedTolerance("--atol", parse.GetValue(atol)), CheckedTolerance("--rtol", parse.GetValue(rtol)));
            using var backend = Backends.Create(parse.GetValue(backendOption)!);
            Tolerance? tolerance = a is null && r is null ? null
                : new Tolerance(a ?? Tolerance.Default.Atol, r ?? Tolerance.Default.Rtol);
            string path = parse.GetValue(casePath)!;
            var jsonPath = parse.GetValue(json);
            if (jsonPath is not null) OutputFile.Check("--json", jsonPath);
            var outcomes = new List<VerifyOutcome>();
            int exit;
            if (Directory.Exists(path))
            {
                if (parse.GetValue(weightsPath) is not null) throw new Runtime.InvalidInputException("--weights takes one case, not a folder of them");
                exit = VerifyFolder(path, backend, tolerance, parse.GetValue(quiet), Console.Out, outcomes);
            }
            else
            {
                using var weights = parse.GetValue(weightsPath) is { } w ? WeightsOverride.Open(w) : null;
                var report = GoldenVerifier.Verify(path, backend, weights?.Weights, tolerance);
                outcomes.Add(new VerifyOutcome(path, report, null));
                if (!parse.GetValue(quiet)) Print(report);
                Console.WriteLine($"verify: {TensorsWithin(report)} ({report.Component}/{report.Case}, {backend.Name})");
                exit = report.Passed ? 0 : 1;
            }
            if (jsonPath is not null) OutputFile.Write("--json", jsonPath, stream => VerifyJson.Write(stream, backend.Name, outcomes));
            return exit;
        }));
        return command;
    }

    /// <summary>A NaN, infinite or negative bound would make every element pass (or none): refused before any work.</summary>
    internal static double? CheckedTolerance(string option, double? value) =>
        value is not { } v || (double.IsFinite(v) && v >= 0) ? value
            : throw new Runtime.InvalidInputException($"{option} must be a finite non-negative number, got {v.ToString(System.Globalization.CultureInfo.InvariantCulture)}");

    /// <summary>"P/N tensors within atol=… rtol=…": a case's count, in the single-case summary and a folder's line alike.</summary>
    private static string TensorsWithin(VerifyReport report) =>
        $"{report.Checks.Count(c => c.Passed)}/{report.Checks.Count} tensors within atol={report.Tolerance.Atol:g} rtol={report.Tolerance.Rtol:g}";

    /// <summary>
    /// Every case under <paramref name="folder"/> (a .json with its .io.safetensors beside it), one summary line each
    /// (with --quiet only the failures), then the count; a case that cannot run — whatever it throws — is a failure with its
    /// one-line reason, and the other cases still run.
    /// </summary>
    internal static int VerifyFolder(string folder, IBackend backend, Tolerance? tolerance, bool quiet, TextWriter output,
        List<VerifyOutcome>? outcomes = null)
    {
        var cases = Directory.EnumerateFiles(folder, "*.json", SearchOption.AllDirectories)
            .Select(json => json[..^".json".Length])
            .Where(prefix => File.Exists(prefix + ".io.safetensors"))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (cases.Count == 0) throw new Runtime.InvalidInputException($"{folder}: no cases (<case>.json with <case>.io.safetensors) under it");
        int passed = 0;
        foreach (var prefix in cases)
        {
            string name = Path.GetRelativePath(folder, prefix), line;
            bool ok;
            try
            {
                var report = GoldenVerifier.Verify(prefix, backend, null, tolerance);
                ok = report.Passed;
                line = TensorsWithin(report);
                outcomes?.Add(new VerifyOutcome(name, report, null));
            }
            catch (Exception e)
            {
                // Even an unexpected exception is this case's failure, not the end of the folder's run.
                (ok, line) = (false, CliErrors.Describe(e));
                outcomes?.Add(new VerifyOutcome(name, null, line));
            }
            if (ok) passed++;
            if (!ok || !quiet) output.WriteLine($"{(ok ? "pass" : "FAIL")}  {name}: {line}");
        }
        output.WriteLine($"verify: {passed}/{cases.Count} cases pass ({folder}, {backend.Name})");
        return passed == cases.Count ? 0 : 1;
    }

    private static void Print(VerifyReport report)
    {
        int width = Math.Max(8, report.Checks.Select(c => c.Name.Length).DefaultIfEmpty(8).Max());
        Console.WriteLine($"{"tensor".PadRight(width)}  {"shape",-18} {"max abs",10} {"max rel",10} {"err/tol",8}  result");
        foreach (var c in report.Checks)
            Console.WriteLine($"{c.Name.PadRight(width)}  {c.Shape,-18} {c.MaxAbsError,10:0.00e+00} {c.MaxRelError,10:0.00e+00} {c.WorstRatio,8:0.000}  {(c.Passed ? "pass" : "FAIL")} {c.Note}");
    }
}
