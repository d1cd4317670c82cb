using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// Compiles the embedded kernels/*.cu with NVRTC for one GPU architecture: CUBIN when this NVRTC can target the
/// arch directly, otherwise PTX for the newest compute_XX it supports below it (the driver JIT-compiles that).
/// Results are cached on disk when a <see cref="KernelCache"/> is given. With <paramref name="dependentLaunch"/> the kernels
/// are built to be launched with programmatic dependent launch (PXL_DEPENDENT_LAUNCH: each waits for its predecessor inside).
/// A current ahead-of-time CUBIN from <paramref name="prebuilt"/> is used instead of compiling (not for dependent launch,
/// which the CMake build does not make, nor when the ptxas report is asked for); without NVRTC
/// (<paramref name="nvrtc"/> null, <paramref name="nvrtcMissing"/> saying why) only those can load.
/// </summary>
public sealed class KernelCompiler(Nvrtc? nvrtc, KernelCache? cache = null, bool dependentLaunch = false, PrebuiltKernels? prebuilt = null,
    string? nvrtcMissing = null)
{
    /// <summary>The define that turns on pxl_dependent_launch() in kernels/prelude.cuh.</summary>
    public const string DependentLaunchDefine = "-DPXL_DEPENDENT_LAUNCH";

    /// <summary>Options every compile gets; the target and ptxas flags are added per call.</summary>
    public static readonly IReadOnlyList<string> BaseOptions = ["-std=c++17", "-default-device"];

    /// <summary>Compiles an embedded kernel file, e.g. "softmax.cu".</summary>
    /// <param name="ptxasVerbose">
    /// The ptxas resource report (<see cref="CompiledKernel.Resources"/>) is needed, so a prebuilt CUBIN (which has none) will
    /// not do. Every CUBIN compile asks ptxas for it (-v), so that <c>pixelllm kernels</c> fills the same cache entries the
    /// backend reads: run first, it compiles every kernel once, in parallel, and no run after it compiles again.
    /// </param>
    public CompiledKernel Compile(string kernelFile, GpuArch arch, bool ptxasVerbose = false)
    {
        if (!ptxasVerbose && !dependentLaunch && prebuilt is not null && prebuilt.TryRead(kernelFile, arch, out var image, out var path))
            return new CompiledKernel(kernelFile, arch, arch.ToString(), KernelImageKind.Cubin, image, $"prebuilt: {path}", [], FromCache: true) { Prebuilt = true };
        return CompileSource(kernelFile, KernelSources.Read(kernelFile), arch, ptxasVerbose);
    }

    private Nvrtc Nvrtc => nvrtc ?? throw new BackendException(
        $"NVRTC is not available ({nvrtcMissing ?? "none given"}) and no current prebuilt CUBIN was found" +
        (prebuilt is null ? $" (${PrebuiltKernels.Variable} is not set)" : $" in {prebuilt.Directory}"));

    /// <summary>Compiles <paramref name="source"/>, which may #include "prelude.cuh" and the other kernels/*.cuh.</summary>
    public CompiledKernel CompileSource(string sourceName, string source, GpuArch arch, bool ptxasVerbose = false)
    {
        var (target, kind) = ChooseTarget(arch);
        var options = new List<string>(BaseOptions) { $"--gpu-architecture={target}" };
        if (kind == KernelImageKind.Cubin) options.Add("--ptxas-options=-v");
        if (dependentLaunch) options.Add(DependentLaunchDefine);

        var nvrtc = Nvrtc;
        var key = KernelCache.Key(sourceName, source, KernelSources.HeadersKey, target, nvrtc.Version, options);
        if (cache is not null && cache.TryRead(key, kind, out var cachedImage, out var cachedLog))
            return new CompiledKernel(sourceName, arch, target, kind, cachedImage, cachedLog, PtxasLog.Parse(cachedLog), FromCache: true);

        using var program = nvrtc.CreateProgram(source, sourceName, KernelSources.Headers);
        program.Compile(options);
        var log = program.GetLog();
        var image = kind == KernelImageKind.Cubin ? program.GetCubin() : program.GetPtx();
        cache?.Write(key, kind, image, log);
        return new CompiledKernel(sourceName, arch, target, kind, image, log, PtxasLog.Parse(log), FromCache: false);
    }

    /// <summary>The --gpu-architecture value for <paramref name="arch"/> and the image kind it yields.</summary>
    public (string Target, KernelImageKind Kind) ChooseTarget(GpuArch arch)
    {
        var nvrtc = Nvrtc;
        var supported = nvrtc.SupportedArchs;
        // Arch-specific targets (sm_90a) are not in nvrtcGetSupportedArchs; NVRTC accepts them from CUDA 12.0.
        bool direct = arch.ArchSpecific ? nvrtc.Version.Major >= 12 && supported.Contains(arch.Version) : supported.Contains(arch.Version);
        if (direct && nvrtc.CanEmitCubin) return (arch.ToString(), KernelImageKind.Cubin);
        if (supported.Count == 0) return ($"compute_{arch.Version}", KernelImageKind.Ptx); // too old to ask; NVRTC will judge

        var below = supported.Where(v => v <= arch.Version).ToArray();
        if (below.Length == 0)
            throw new BackendException($"NVRTC {nvrtc.Version} ({nvrtc.LibraryPath}) cannot target {arch}: its oldest architecture is sm_{supported.Min()}");
        return ($"compute_{below.Max()}", KernelImageKind.Ptx);
    }
}
