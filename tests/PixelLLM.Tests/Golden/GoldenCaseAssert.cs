using PixelLLM.Backends.Cpu;
using PixelLLM.Models.Verification;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>Runs one golden case on the CPU backend and fails with every out-of-tolerance tensor named.</summary>
internal static class GoldenCaseAssert
{
    /// <summary>Case names (without suffixes) of a component, for a Theory's MemberData.</summary>
    public static TheoryData<string> Cases(string component)
    {
        var data = new TheoryData<string>();
        foreach (var json in Directory.GetFiles(Path.Combine(Golden.Root, component), "*.json").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileNameWithoutExtension(json));
        return data;
    }

    public static VerifyReport Passes(string component, string caseName, CpuAccumulation accumulation = CpuAccumulation.Float32)
    {
        using var backend = new CpuBackend(accumulation: accumulation);
        var report = GoldenVerifier.Verify(Path.Combine(Golden.Root, component, caseName), backend);
        var failed = report.Checks.Where(c => !c.Passed).ToList();
        Assert.True(report.Checks.Count > 0, $"{component}/{caseName}: nothing compared");
        Assert.True(failed.Count == 0, $"{component}/{caseName}: " + string.Join("; ", failed.Select(c =>
            $"{c.Name} {c.Shape}: max abs {c.MaxAbsError:g3}, worst/allowed {c.WorstRatio:g3} {c.Note}")));
        return report;
    }
}
