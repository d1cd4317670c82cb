using System.Text.Json;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.Verification;

/// <summary>The result of verifying one case.</summary>
public sealed record VerifyReport(string Component, string Case, Tolerance Tolerance, IReadOnlyList<TensorCheck> Checks)
{
    public bool Passed => Checks.Count > 0 && Checks.All(c => c.Passed);
}

/// <summary>Opens a case, runs the matching runner and compares: the path behind both `pixelllm verify` and the golden tests.</summary>
public static class GoldenVerifier
{
    public static VerifyReport Verify(string casePrefix, IBackend backend, IWeightSource? weights = null, Tolerance? tolerance = null)
    {
        using var golden = GoldenCase.Open(casePrefix, weights);
        var runner = GoldenRunners.For(golden.Component);
        try
        {
            var outputs = runner.Run(golden, backend);
            var checks = GoldenComparison.Compare(golden, outputs, tolerance);
            return new VerifyReport(golden.Component, golden.Name, tolerance ?? CaseTolerances.Read(golden.Json, golden.JsonPath).Default, checks);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // Backstop: runners read their config through CaseJson, whose errors name the field; anything System.Text.Json
            // still throws while a case is read is a malformed case file too, not an internal error.
            throw new ModelFileException($"{golden.JsonPath}: malformed case ({e.GetType().Name}: {e.Message})");
        }
    }
}
