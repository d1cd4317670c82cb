using PixelLLM.Backends.Cpu;
using PixelLLM.Models.Verification;

namespace PixelLLM.Tests.Support;

/// <summary>Runs a reference case through the same path as <c>pixelllm verify</c> and fails with every out-of-tolerance tensor named.</summary>
internal static class GoldenAssert
{
    public static VerifyReport Passes(string component, string caseName)
    {
        using var backend = new CpuBackend();
        var report = GoldenVerifier.Verify(Path.Combine(Golden.Root, component, caseName), backend);
        var failed = report.Checks.Where(c => !c.Passed).ToList();
        Assert.True(report.Checks.Count > 0, $"{component}/{caseName}: nothing was compared");
        Assert.True(failed.Count == 0, $"{component}/{caseName}: " + string.Join("; ",
            failed.Select(c => $"{c.Name} {c.Shape} max|err|={c.MaxAbsError:g3} err/tol={c.WorstRatio:g3} {c.Note}")));
        return report;
    }
}
