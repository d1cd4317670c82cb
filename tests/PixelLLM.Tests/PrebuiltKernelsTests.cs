using System.Diagnostics;
using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// Ahead-of-time CUBINs (CMakeLists.txt): the stamp cmake/kernel_key.cmake writes equals the engine's for the sources it
/// embeds; a CUBIN is used only with a current stamp and for exactly its architecture; the compiler prefers it to NVRTC
/// (and needs no NVRTC for it), and compiles as usual for the ptxas report or when none is there. Needs cmake (CI has it).
/// </summary>
public sealed class PrebuiltKernelsTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("pixelllm-cubins-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Theory]
    [InlineData("softmax.cu")]
    [InlineData("decoder_layer_stream.cu")]
    [InlineData("beam_candidates.cu")]
    public void CMakeStampEqualsTheEnginesStampOfItsEmbeddedSources(string kernelFile)
    {
        var output = Path.Combine(directory, kernelFile + ".key");
        var kernels = Path.Combine(RepoRoot.Path, "kernels");
        var start = new ProcessStartInfo("cmake", ["-DSOURCE=" + Path.Combine(kernels, kernelFile), "-DKERNEL_DIR=" + kernels, "-DOUTPUT=" + output,
            "-P", Path.Combine(RepoRoot.Path, "cmake", "kernel_key.cmake")]) { RedirectStandardError = true };
        Process? started = null;
        try { started = Process.Start(start); }
        catch (System.ComponentModel.Win32Exception e) { Assert.Fail($"cmake could not be run ({e.Message}): .ci/run installs it (apt-get install cmake)"); }
        using var cmake = started ?? throw new InvalidOperationException("cmake did not start");
        string errors = cmake.StandardError.ReadToEnd();
        cmake.WaitForExit();

        Assert.True(cmake.ExitCode == 0, $"cmake -P cmake/kernel_key.cmake failed: {errors}");
        Assert.Equal(PrebuiltKernels.SourceKey(kernelFile), File.ReadAllText(output).Trim());
        Assert.NotEqual(PrebuiltKernels.SourceKey("softmax.cu"), PrebuiltKernels.SourceKey("argmax.cu"));
    }

    [Fact]
    public void OnlyACurrentStampForExactlyTheArchitectureIsRead()
    {
        var prebuilt = new PrebuiltKernels(directory);
        Write("sm_90", "softmax.cu", [1, 2, 3], PrebuiltKernels.SourceKey("softmax.cu"));
        Write("sm_90", "argmax.cu", [4, 5], "0123456789abcdef");                            // stale: built from other sources
        Write("sm_80", "topk.cu", [6], PrebuiltKernels.SourceKey("topk.cu"));
        File.WriteAllBytes(Path.Combine(directory, "sm_90", "topk.cubin"), [7]);              // no stamp

        Assert.True(prebuilt.TryRead("softmax.cu", GpuArch.Sm90, out var image, out var path));
        Assert.Equal([1, 2, 3], image);
        Assert.EndsWith(Path.Combine("sm_90", "softmax.cubin"), path);
        Assert.False(prebuilt.TryRead("argmax.cu", GpuArch.Sm90, out _, out _));
        Assert.False(prebuilt.TryRead("topk.cu", GpuArch.Sm90, out _, out _));
        Assert.True(prebuilt.TryRead("topk.cu", GpuArch.Parse("sm_80"), out _, out _));
        Assert.False(prebuilt.TryRead("softmax.cu", GpuArch.Parse("sm_80"), out _, out _));
        Assert.False(new PrebuiltKernels(Path.Combine(directory, "missing")).TryRead("softmax.cu", GpuArch.Sm90, out _, out _));
        Assert.Equal(1, prebuilt.CountCurrent(GpuArch.Sm90));
    }

    [Fact]
    public void TheCompilerLoadsACurrentCubinInsteadOfCompilingAndNeedsNoNvrtcForIt()
    {
        Write("sm_90", "softmax.cu", [9, 8, 7], PrebuiltKernels.SourceKey("softmax.cu"));
        var withoutNvrtc = new KernelCompiler(null, prebuilt: new PrebuiltKernels(directory), nvrtcMissing: "not installed");

        var loaded = withoutNvrtc.Compile("softmax.cu", GpuArch.Sm90);
        Assert.True(loaded.Prebuilt);
        Assert.Equal(KernelImageKind.Cubin, loaded.Kind);
        Assert.Equal([9, 8, 7], loaded.Image);

        var e = Assert.Throws<BackendException>(() => withoutNvrtc.Compile("argmax.cu", GpuArch.Sm90));
        Assert.Contains("not installed", e.Message);
        Assert.Contains(directory, e.Message);

        // The ptxas report and dependent launch need a real compile: NVRTC then runs although the CUBIN is there.
        var nvrtc = Nvrtc.TryLoad(out var whyNot) ?? throw new InvalidOperationException($"libnvrtc is needed here: {whyNot}");
        var verbose = new KernelCompiler(nvrtc, prebuilt: new PrebuiltKernels(directory)).Compile("softmax.cu", GpuArch.Sm90, ptxasVerbose: true);
        Assert.False(verbose.Prebuilt);
        Assert.NotEqual([9, 8, 7], verbose.Image);
        Assert.False(new KernelCompiler(nvrtc, dependentLaunch: true, prebuilt: new PrebuiltKernels(directory)).Compile("softmax.cu", GpuArch.Sm90).Prebuilt);
    }

    private void Write(string arch, string kernelFile, byte[] image, string key)
    {
        var folder = Path.Combine(directory, arch);
        Directory.CreateDirectory(folder);
        var cubin = Path.Combine(folder, Path.GetFileNameWithoutExtension(kernelFile) + ".cubin");
        File.WriteAllBytes(cubin, image);
        File.WriteAllText(cubin + ".key", key + "\n");
    }
}
