using System.Runtime.CompilerServices;
using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Interop;

namespace PixelLLM.Tests;

/// <summary>
/// Programmatic dependent launch lets a kernel start before its predecessor has finished, so it is only safe if every
/// kernel waits first (pxl_dependent_launch() as the first statement of every entry point, or of the body function it
/// starts with, which may only request constant weights before it), and the launch structs must
/// match the driver's layout. Both are checked here without a GPU; backend-check with PIXELLLM_PDL=1 checks it on one.
/// </summary>
public class DependentLaunchTests
{
    [Theory]
    [MemberData(nameof(KernelCompileTests.KernelFiles), MemberType = typeof(KernelCompileTests))]
    public void EveryKernelWaitsForItsPredecessorBeforeAnythingElse(string file)
    {
        // With the kernel headers it includes: decoder_layer.cuh defines both layer kernels' entry point (a macro).
        var source = KernelSources.Read(file);
        foreach (var (name, text) in KernelSources.Headers)
            if (name != KernelSources.PreludeName && source.Contains($"#include \"{name}\"", StringComparison.Ordinal)) source += "\n" + text;
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
            if (!first.StartsWith("pxl_dependent_launch();", StringComparison.Ordinal))
            {
                // Or the entry point's first statement is a call of a body function of the same file that waits itself
                // (gemv.cu requests its constant weights first): that function must call it, before touching its outputs.
                var callee = new string(first.TakeWhile(c => char.IsLetterOrDigit(c) || c == '_').ToArray());
                Assert.True(callee.Length > 0, $"{file}: the kernel at offset {at} does not call pxl_dependent_launch() first");
                var calleeBody = FunctionBody(source, callee);
                Assert.True(calleeBody is not null && calleeBody.Contains("pxl_dependent_launch();", StringComparison.Ordinal),
                    $"{file}: the kernel at offset {at} starts with {callee}(), which does not call pxl_dependent_launch()");
            }
            entries++;
        }
        Assert.True(entries > 0, $"{file} defines no kernel");
    }

    /// <summary>The body of the device function <paramref name="name"/> (PXL_DEVICE … name(…) { … }), or null.</summary>
    private static string? FunctionBody(string source, string name)
    {
        for (int at = source.IndexOf("PXL_DEVICE", StringComparison.Ordinal); at >= 0; at = source.IndexOf("PXL_DEVICE", at + 1, StringComparison.Ordinal))
        {
            int open = source.IndexOf('{', at), named = source.IndexOf($" {name}(", at, StringComparison.Ordinal);
            if (open < 0 || named < 0 || named > open) continue;
            int depth = 0;
            for (int i = open; i < source.Length; i++)
            {
                if (source[i] == '{') depth++;
                else if (source[i] == '}' && --depth == 0) return source[open..(i + 1)];
            }
        }
        return null;
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
