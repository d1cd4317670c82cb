using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;
using Xunit.Abstractions;

namespace PixelLLM.Tests;

/// <summary>
/// CI's check of the kernel tree: every kernels/*.cu compiles with NVRTC to CUBIN for sm_80 and sm_90 without
/// register spills. Needs libnvrtc (CI installs Debian's libnvrtc11.2), so a missing library is a failure, not a skip.
/// </summary>
public class KernelCompileTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> KernelFilesByArch()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in KernelSources.KernelFiles)
            foreach (var arch in new[] { "sm_80", "sm_90" })
                data.Add(file, arch);
        return data;
    }

    [Theory]
    [MemberData(nameof(KernelFilesByArch))]
    public void KernelCompilesToCubinWithoutSpills(string file, string arch)
    {
        var compiled = new KernelCompiler(RequireNvrtc()).Compile(file, GpuArch.Parse(arch), ptxasVerbose: true);

        Assert.Equal(KernelImageKind.Cubin, compiled.Kind);
        Assert.NotEmpty(compiled.Image);
        var entries = compiled.Resources.Where(r => r.IsEntry).ToArray();
        Assert.True(entries.Length > 0, $"{file} {arch}: ptxas reported no kernels; log:\n{compiled.Log}");
        foreach (var r in compiled.Resources)
        {
            output.WriteLine($"{file} {arch} {r.Function}: {r.Registers} registers, {r.SharedBytes} B smem, " +
                             $"{r.StackFrameBytes} B stack, spill {r.SpillStoreBytes}/{r.SpillLoadBytes} B");
            Assert.False(r.Spills, $"{file} {arch} {r.Function} spills {r.SpillStoreBytes} B stores / {r.SpillLoadBytes} B loads");
        }
        Assert.All(entries, r => Assert.True(r.Registers > 0, $"{r.Function}: no register count parsed"));
    }

    public static TheoryData<string> KernelFiles() => new(KernelSources.KernelFiles);

    /// <summary>With PXL_DEPENDENT_LAUNCH (griddepcontrol, sm_90) every file still compiles without spills, into other code.</summary>
    [Theory]
    [MemberData(nameof(KernelFiles))]
    public void KernelCompilesForDependentLaunchOnSm90(string file)
    {
        var nvrtc = RequireNvrtc();
        var plain = new KernelCompiler(nvrtc).Compile(file, GpuArch.Sm90);
        var dependent = new KernelCompiler(nvrtc, dependentLaunch: true).Compile(file, GpuArch.Sm90, ptxasVerbose: true);
        Assert.NotEmpty(dependent.Image);
        Assert.NotEqual(plain.Image, dependent.Image);
        Assert.All(dependent.Resources, r => Assert.False(r.Spills, $"{file} {r.Function} spills with PXL_DEPENDENT_LAUNCH"));
    }

    [Fact]
    public void EmbeddedKernelsAreExactlyTheKernelsFolder()
    {
        var folder = FindKernelsFolder();
        var onDisk = Directory.GetFiles(folder).Select(Path.GetFileName).Where(n => n!.EndsWith(".cu") || n.EndsWith(".cuh")).Order().ToArray();
        var embedded = KernelSources.KernelFiles.Concat(KernelSources.Headers.Select(h => h.Name)).Order().ToArray();
        Assert.Equal(onDisk, embedded);
        foreach (var name in embedded) Assert.Equal(File.ReadAllText(Path.Combine(folder, name)), KernelSources.Read(name));
    }

    [Fact]
    public void CompileErrorNamesTheCallAndCarriesTheLog()
    {
        var compiler = new KernelCompiler(RequireNvrtc());
        var source = "#include \"prelude.cuh\"\nextern \"C\" __global__ void broken(float* y) { y[0] = undeclared_name; }\n";
        var e = Assert.Throws<BackendException>(() => compiler.CompileSource("broken.cu", source, GpuArch.Sm80));
        Assert.Contains("nvrtcCompileProgram(broken.cu)", e.Message);
        Assert.Contains("undeclared_name", e.Message);
    }

    [Fact]
    public void SecondCompileComesFromTheCacheWithTheSameImage()
    {
        var dir = Path.Combine(Path.GetTempPath(), "pixelllm-kernel-cache-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var compiler = new KernelCompiler(RequireNvrtc(), new KernelCache(dir));
            var first = compiler.Compile("softmax.cu", GpuArch.Sm80, ptxasVerbose: true);
            var second = compiler.Compile("softmax.cu", GpuArch.Sm80, ptxasVerbose: true);
            var otherArch = compiler.Compile("softmax.cu", GpuArch.Sm90, ptxasVerbose: true);

            Assert.False(first.FromCache);
            Assert.True(second.FromCache);
            Assert.Equal(first.Image, second.Image);
            Assert.Equal(first.Resources, second.Resources);
            Assert.False(otherArch.FromCache);
            // The backend's compile (no report asked for) reads what `pixelllm kernels` wrote: the same key.
            var backend = new KernelCompiler(RequireNvrtc(), new KernelCache(dir)).Compile("softmax.cu", GpuArch.Sm80);
            Assert.True(backend.FromCache);
            Assert.Equal(first.Image, backend.Image);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ArchNewerThanNvrtcKnowsFallsBackToPtxForItsNewestArch()
    {
        var nvrtc = RequireNvrtc();
        int newest = nvrtc.SupportedArchs.Max();
        var (target, kind) = new KernelCompiler(nvrtc).ChooseTarget(new GpuArch(newest + 10));
        Assert.Equal(KernelImageKind.Ptx, kind);
        Assert.Equal($"compute_{newest}", target);
    }

    [Fact]
    public void PtxasLogParserReadsEntriesDeviceFunctionsAndSpills()
    {
        // Captured from NVRTC 11.8 (--ptxas-options=-v): a spilling kernel with --maxrregcount=24 and a non-inlined
        // helper, followed by layer_norm_f32's report (the only one with static shared memory).
        const string log = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Compiling entry function 'light' for 'sm_80'
            ptxas info    : Function properties for light
            ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 8 registers, 360 bytes cmem[0]
            ptxas info    : Compiling entry function 'heavy' for 'sm_80'
            ptxas info    : Function properties for heavy
            ptxas         .     672 bytes stack frame, 244 bytes spill stores, 312 bytes spill loads
            ptxas info    : Used 24 registers, 372 bytes cmem[0]
            ptxas info    : Function properties for _Z6helperPKfi
            ptxas         .     0 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads
            ptxas info    : Compiling entry function 'layer_norm_f32' for 'sm_80'
            ptxas info    : Function properties for layer_norm_f32
            ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 19 registers, 128 bytes smem, 392 bytes cmem[0]
            """;

        var usage = PtxasLog.Parse(log);

        Assert.Equal(
        [
            new KernelResourceUsage("light", IsEntry: true, Registers: 8, SharedBytes: 0, StackFrameBytes: 0, SpillStoreBytes: 0, SpillLoadBytes: 0),
            new KernelResourceUsage("heavy", true, 24, 0, 672, 244, 312),
            new KernelResourceUsage("_Z6helperPKfi", false, 0, 0, 0, 4, 4),
            new KernelResourceUsage("layer_norm_f32", true, 19, 128, 0, 0, 0),
        ], usage);
        Assert.Equal([false, true, true, false], usage.Select(u => u.Spills));
    }

    [Fact]
    public void PtxasLogParserReturnsNothingForALogWithoutAReport() => Assert.Empty(PtxasLog.Parse(""));

    [Theory]
    [InlineData("sm_80", 80, false)]
    [InlineData("sm_90a", 90, true)]
    [InlineData("90", 90, false)]
    public void GpuArchParsesAndPrintsBack(string text, int version, bool specific)
    {
        var arch = GpuArch.Parse(text);
        Assert.Equal(new GpuArch(version, specific), arch);
        Assert.Equal(text.StartsWith("sm_") ? text : "sm_" + text, arch.ToString());
    }

    [Theory]
    [InlineData("sm_")]
    [InlineData("compute_80")]
    [InlineData("sm_8")]
    public void GpuArchRejectsWhatIsNotAnArch(string text) => Assert.Throws<ArgumentException>(() => GpuArch.Parse(text));

    private static Nvrtc RequireNvrtc()
    {
        var nvrtc = Nvrtc.TryLoad(out var whyNot);
        if (nvrtc is null)
            Assert.Fail($"libnvrtc could not be loaded ({whyNot}). Run .ci/run (as root) or install Debian non-free's " +
                        $"libnvrtc11.2 (apt-get install libnvrtc11.2), or set {Nvrtc.PathVariable} to a libnvrtc.so.");
        return nvrtc!;
    }

    private static string FindKernelsFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var kernels = Path.Combine(dir.FullName, "kernels");
            if (File.Exists(Path.Combine(kernels, KernelSources.PreludeName))) return kernels;
        }
        throw new DirectoryNotFoundException($"no kernels/{KernelSources.PreludeName} above {AppContext.BaseDirectory}");
    }
}
