using System.Reflection;
using PixelLLM.Backends.Cuda;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>`pixelllm info`'s switch list is complete: every PIXELLLM_* constant of the CUDA backend is either a switch in
/// <see cref="CudaSwitches"/> or one of the locations `info` reports elsewhere (libraries, prebuilt cubins, the tuned profile).</summary>
public class CudaSwitchesTests
{
    private static readonly string[] Locations = ["PIXELLLM_CUDA_DRIVER", "PIXELLLM_NVRTC", "PIXELLLM_CUBLAS", "PIXELLLM_CUBLASLT_LIB", "PIXELLLM_KERNEL_CUBINS", "PIXELLLM_CUPTI", "PIXELLLM_TUNED"];

    [Fact]
    public void EveryEnvironmentConstantOfTheBackendIsListed()
    {
        var constants = typeof(CudaBackend).Assembly.GetTypes()
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!)
            .Where(v => v.StartsWith("PIXELLLM_", StringComparison.Ordinal))
            .ToHashSet();
        Assert.Contains("PIXELLLM_SKINNY_GEMM", constants);
        Assert.Equal(constants.Except(Locations).Order(), CudaSwitches.All.Select(s => s.Name).Order());
        Assert.Equal(CudaSwitches.All.Count, CudaSwitches.All.Select(s => s.Name).Distinct().Count());
    }

    /// <summary>The README's table has a row per switch with its default, and docs/cuda-switches.md a paragraph.</summary>
    [Fact]
    public void ReadmeTableAndSwitchDocumentAgreeWithTheList()
    {
        var readme = File.ReadAllLines(Path.Combine(RepoRoot.Path, "README.md"));
        var rows = readme.Where(l => l.StartsWith("| `PIXELLLM_", StringComparison.Ordinal))
            .Select(l => l.Split('|', StringSplitOptions.TrimEntries))
            .ToDictionary(c => c[1].Trim('`'), c => c[2]);
        Assert.Equal(CudaSwitches.All.Select(s => s.Name).Order(), rows.Keys.Order());
        foreach (var s in CudaSwitches.All) Assert.True(s.Default == rows[s.Name], $"{s.Name}: README says {rows[s.Name]}, the code {s.Default}");
        var document = File.ReadAllText(Path.Combine(RepoRoot.Path, "docs", "cuda-switches.md"));
        foreach (var s in CudaSwitches.All) Assert.Contains($"`{s.Name}", document);
    }

    [Fact]
    public void ValueReadsTheEnvironment()
    {
        var skinny = CudaSwitches.All.Single(s => s.Name == "PIXELLLM_SKINNY_GEMM");
        Environment.SetEnvironmentVariable("PIXELLLM_SKINNY_GEMM", "7"); // no CUDA backend is created by the tests
        try { Assert.Equal("7", skinny.Value); }
        finally { Environment.SetEnvironmentVariable("PIXELLLM_SKINNY_GEMM", null); }
        Assert.Null(skinny.Value);
    }

    /// <summary>PIXELLLM_PROFILE_HOLD_MS: unset is 100 ms, 0 turns holding off, anything else but a whole number ≥ 0 is named.</summary>
    [Fact]
    public void ProfileHoldTimeoutIsReadOrRejected()
    {
        Assert.Equal(100, CudaOpTimer.HoldMilliseconds(null));
        Assert.Equal(0, CudaOpTimer.HoldMilliseconds("0"));
        Assert.Equal(250, CudaOpTimer.HoldMilliseconds("250"));
        foreach (var bad in new[] { "-1", "1.5", "soon" })
            Assert.Contains($"PIXELLLM_PROFILE_HOLD_MS={bad}", Assert.Throws<Runtime.BackendException>(() => CudaOpTimer.HoldMilliseconds(bad)).Message);
    }
}
