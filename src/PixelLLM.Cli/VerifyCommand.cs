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
        var casePath = new Argument<string>("case") { Description = "case path prefix: <case>.json, <case>.weights.safetensors and <case>.io.safetensors must exist" };
        var backendOption = new Option<string>("--backend") { Description = "cpu (default) or cuda", DefaultValueFactory = _ => "cpu" };
        var quiet = new Option<bool>("--quiet") { Description = "print only the summary line" };
        var command = new Command("verify", "Check the engine against a reference case (tensors within tolerance, ids exact)")
        {
            casePath, backendOption, quiet,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            using var backend = Backends.Create(parse.GetValue(backendOption)!);
            var report = GoldenVerifier.Verify(parse.GetValue(casePath)!, backend);
            if (!parse.GetValue(quiet)) Print(report);
            int failed = report.Checks.Count(c => !c.Passed);
            Console.WriteLine($"{report.Component}/{report.Case} on {backend.Name}: {(failed == 0 ? "PASS" : "FAIL")} " +
                $"({report.Checks.Count - failed}/{report.Checks.Count} tensors within tolerance)");
            return failed == 0 ? 0 : 1;
        }));
        return command;
    }

    private static void Print(VerifyReport report)
    {
        int width = Math.Max(8, report.Checks.Select(c => c.Name.Length).DefaultIfEmpty(8).Max());
        Console.WriteLine($"{"tensor".PadRight(width)}  {"shape",-18} {"max |err|",10} {"err/tol",8}  status");
        foreach (var c in report.Checks)
            Console.WriteLine($"{c.Name.PadRight(width)}  {c.Shape,-18} {c.MaxAbsError,10:0.00e+00} {c.WorstRatio,8:0.000}  {(c.Passed ? "ok" : "FAIL")} {c.Note}");
    }
}
