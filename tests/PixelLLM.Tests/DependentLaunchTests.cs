using System.Runtime.CompilerServices;
using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Interop;

namespace PixelLLM.Tests;

/// <summary>
/// Programmatic dependent launch lets a kernel start before its predecessor has finished, so it is only safe if every
/// kernel waits first (pxl_dependent_launch() as the first statement of every entry point), and the launch structs must
/// match the driver's layout. Both are checked here without a GPU; backend-check with PIXELLLM_PDL=1 checks it on one.
/// </summary>
public class DependentLaunchTests
{
    [Theory]
    [MemberData(nameof(KernelCompileTests.KernelFiles), MemberType = typeof(KernelCompileTests))]
    public void EveryKernelWaitsForItsPredecessorBeforeAnythingElse(string file)
    {
        var source = KernelSources.Read(file);
        int entries = 0;
        for (int at = source.IndexOf("extern \"C\" __global__", StringComparison.Ordinal); at >= 0;
             at = source.IndexOf("extern \"C\" __global__", at + 1, StringComparison.Ordinal))
        {
            int depth = 0, body = at;
            for (; ; body++)
            {
                char c = source[body];
                if (c == '(') depth++;
                else if (c == ')') depth--;
                else if (c == '{' && depth == 0) break;
            }
            var first = source[(body + 1)..].TrimStart(' ', '\t', '\\', '\r', '\n');
            Assert.True(first.StartsWith("pxl_dependent_launch();", StringComparison.Ordinal),
                $"{file}: the kernel at offset {at} does not call pxl_dependent_launch() first");
            entries++;
        }
        Assert.True(entries > 0, $"{file} defines no kernel");
    }

    [Fact]
    public void LaunchStructsHaveTheDriversLayout()
    {
        Assert.Equal(56, Unsafe.SizeOf<CudaDriver.LaunchConfig>());
        Assert.Equal(72, Unsafe.SizeOf<CudaDriver.LaunchAttribute>());
        var config = default(CudaDriver.LaunchConfig);
        unsafe
        {
            byte* start = (byte*)&config;
            Assert.Equal(32, (int)((byte*)&config.Stream - start));
            Assert.Equal(40, (int)((byte*)&config.Attributes - start));
            Assert.Equal(48, (int)((byte*)&config.AttributeCount - start));
            var attribute = default(CudaDriver.LaunchAttribute);
            Assert.Equal(8, (int)((byte*)attribute.Value - (byte*)&attribute));
        }
    }
}
