namespace PixelLLM.Backends.Cuda;

/// <summary>What an NVRTC compile produced.</summary>
public enum KernelImageKind
{
    /// <summary>A device binary for exactly the requested sm_XX.</summary>
    Cubin,

    /// <summary>NUL-terminated PTX for a compute_XX at or below the requested arch; the driver JIT-compiles it on load.</summary>
    Ptx,
}

/// <summary>A compiled kernel file: the image to load, the compiler log and ptxas's per-function resource report.</summary>
/// <param name="SourceName">The kernel file, e.g. "softmax.cu".</param>
/// <param name="Arch">The requested target.</param>
/// <param name="Target">What was passed to --gpu-architecture: the arch itself (CUBIN) or a compute_XX (PTX).</param>
/// <param name="Resources">Per function; filled only for CUBIN compiled with ptxas -v (PTX never runs ptxas).</param>
/// <param name="FromCache">Read from the on-disk cache (or a prebuilt CUBIN) rather than compiled now.</param>
public sealed record CompiledKernel(string SourceName, GpuArch Arch, string Target, KernelImageKind Kind, byte[] Image,
    string Log, IReadOnlyList<KernelResourceUsage> Resources, bool FromCache)
{
    /// <summary>An ahead-of-time CUBIN of <see cref="PrebuiltKernels"/>, not an NVRTC compile.</summary>
    public bool Prebuilt { get; init; }
}
