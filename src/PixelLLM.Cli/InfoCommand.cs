using System.CommandLine;
using System.Numerics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using PixelLLM.Backends.Cuda;
using PixelLLM.Backends.Cuda.Interop;
using Arm = System.Runtime.Intrinsics.Arm;
using X86 = System.Runtime.Intrinsics.X86;

namespace PixelLLM.Cli;

internal static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Build, CPU features and which backends and GPU libraries were found");
        command.SetAction(result =>
        {
            Print(result.InvocationConfiguration.Output);
            return 0;
        });
        return command;
    }

    internal static void Print(TextWriter o)
    {
        var version = Assembly.GetExecutingAssembly().GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        // A NativeAOT build has no JIT: its vector paths were fixed when it was compiled (./pixelllm compiles for this CPU).
        string build = System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? "JIT" : "native (NativeAOT)";
        o.WriteLine($"pixelllm {version} on .NET {Environment.Version} ({RuntimeInformation.RuntimeIdentifier}, {build}), {Environment.ProcessorCount} cores");
        o.WriteLine($"cpu simd: {string.Join(' ', SimdFeatures().DefaultIfEmpty("none"))}; " +
                    $"Vector<float> = {Vector<float>.Count} lanes, Vector512 accelerated: {(Vector512.IsHardwareAccelerated ? "yes" : "no")}");

        var driver = CudaLibraries.ProbeDriver();
        o.WriteLine("backends: cpu (fp32), cpu-f64 (fp32 storage, float64-summed GEMMs; verify's default), cuda (f32 exact path; bf16/f16 storage) — pick with --backend");
        o.WriteLine(driver.Found
            ? $"cuda: driver {driver.Path} supports CUDA {driver.Version ?? "?"}: --backend cuda is usable (checked on an H100 and an H200: docs/perf/gpu-h200.md)"
            : $"cuda: {driver.WhyNot}");

        var nvrtc = Nvrtc.TryLoad(out var nvrtcWhyNot);
        o.WriteLine(nvrtc is null
            ? $"nvrtc: not found ({nvrtcWhyNot})"
            : $"nvrtc: {nvrtc.Version} at {nvrtc.LibraryPath}{ArchRange(nvrtc)}");
        o.WriteLine($"prebuilt cubins: {PrebuiltSummary()}");
        o.WriteLine($"cublas: {CudaLibraries.ProbeCublas()}");
        o.WriteLine($"cublasLt: {CudaLibraries.ProbeCublasLt()}");
        o.WriteLine($"cupti: {Cupti.Probe()} (bench --kernel-trace only)");
        string whyNot = "no CUDA driver";
        var settings = driver.Found ? DeviceSwitches(out whyNot) : null;
        o.WriteLine(settings is null
            ? $"tuned profile: {whyNot}"
            : $"tuned profile ({settings.Device}, {settings.Arch}): {settings.TunedStatus}");
        o.WriteLine("cuda switches (\"set\": in the environment; \"tuned\": from the card's tuned profile; \"tunable\": `pixelllm tune` tries it; \"unmeasured\": awaits a GPU run):");
        foreach (var s in CudaSwitches.All)
        {
            var value = settings?.Get(s.Name) ?? s.Value;
            var state = value is null ? $"default {s.Default}" : $"{(settings?.Source(s.Name) == "tuned" ? "tuned" : "set")} {value}";
            var notes = (s.Tunable ? " (tunable)" : "") + (s.Measured ? "" : " (unmeasured)");
            o.WriteLine($"  {s.Name,-32} {state,-22} {s.Meaning}{notes}");
        }
    }

    /// <summary>The switch settings of device 0 (its tuned profile applied), or null with the reason when the device cannot be opened.</summary>
    private static CudaSwitchSettings? DeviceSwitches(out string whyNot)
    {
        whyNot = "";
        try
        {
            using var cuda = CudaBackend.Create();
            return cuda.Switches;
        }
        catch (Exception e) // info reports; a device that cannot be opened is one more fact
        {
            whyNot = $"not read ({e.Message})";
            return null;
        }
    }

    /// <summary>Where $PIXELLLM_KERNEL_CUBINS points and, per architecture folder there, how many kernel files have a current CUBIN.</summary>
    private static string PrebuiltSummary()
    {
        if (PrebuiltKernels.FromEnvironment() is not { } prebuilt) return $"none (${PrebuiltKernels.Variable} is not set; see CMakeLists.txt)";
        var archs = Directory.Exists(prebuilt.Directory)
            ? Directory.GetDirectories(prebuilt.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()
            : [];
        var counts = archs.Where(a => a!.StartsWith("sm_", StringComparison.Ordinal))
            .Select(a => $"{a} {prebuilt.CountCurrent(GpuArch.Parse(a!))}/{KernelSources.KernelFiles.Count} current").ToArray();
        return $"{prebuilt.Directory}: " + (counts.Length == 0 ? "no sm_XX folders" : string.Join(", ", counts));
    }

    private static string ArchRange(Nvrtc nvrtc)
    {
        if (nvrtc.SupportedArchs.Count == 0) return "";
        var output = nvrtc.CanEmitCubin ? "CUBIN" : "PTX";
        return $" ({output} for sm_{nvrtc.SupportedArchs.Min()}..sm_{nvrtc.SupportedArchs.Max()})";
    }

    private static IEnumerable<string> SimdFeatures()
    {
        (bool Supported, string Name)[] features =
        [
            (X86.Sse42.IsSupported, "SSE4.2"), (X86.Avx.IsSupported, "AVX"), (X86.Avx2.IsSupported, "AVX2"),
            (X86.Fma.IsSupported, "FMA"), (X86.AvxVnni.IsSupported, "AVX-VNNI"), (X86.Avx512F.IsSupported, "AVX-512F"),
            (X86.Avx512BW.IsSupported, "AVX-512BW"), (X86.Avx512DQ.IsSupported, "AVX-512DQ"),
            (Arm.AdvSimd.IsSupported, "NEON"), (Arm.Dp.IsSupported, "DotProd"),
        ];
        return features.Where(f => f.Supported).Select(f => f.Name);
    }
}
