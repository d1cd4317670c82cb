using System.Reflection;
using PixelLLM.Backends.Cuda;

namespace PixelLLM.Tests;

/// <summary>`pixelllm info`'s switch list is complete: every PIXELLLM_* constant of the CUDA backend is either a switch in
/// <see cref="CudaSwitches"/> or one of the library locations `info` reports elsewhere.</summary>
public class CudaSwitchesTests
{
    private static readonly string[] Locations = ["PIXELLLM_NVRTC", "PIXELLLM_CUBLAS", "PIXELLLM_CUBLASLT_LIB", "PIXELLLM_KERNEL_CUBINS"];

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

    [Fact]
    public void ValueReadsTheEnvironment()
    {
        var skinny = CudaSwitches.All.Single(s => s.Name == "PIXELLLM_SKINNY_GEMM");
        Environment.SetEnvironmentVariable("PIXELLLM_SKINNY_GEMM", "7"); // no CUDA backend is created by the tests
        try { Assert.Equal("7", skinny.Value); }
        finally { Environment.SetEnvironmentVariable("PIXELLLM_SKINNY_GEMM", null); }
        Assert.Null(skinny.Value);
    }
}
