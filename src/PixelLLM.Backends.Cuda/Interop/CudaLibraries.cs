using System.Runtime.InteropServices;

namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>Whether one CUDA library is usable here: where it was found and its version, or why not.</summary>
/// <param name="Library">e.g. "libcuda", "libnvrtc", "libcublas".</param>
/// <param name="Path">The loaded file, or null when not found.</param>
/// <param name="Version">e.g. "13.0", or null when unknown.</param>
/// <param name="WhyNot">When not found: what was tried.</param>
public sealed record CudaLibraryStatus(string Library, string? Path, string? Version, string? WhyNot)
{
    public bool Found => Path is not null;

    public override string ToString() => Found ? $"{Version ?? "version unknown"} at {Path}" : $"not found ({WhyNot})";
}

/// <summary>
/// Probes for the CUDA libraries the backend uses. Probing only loads a library and asks its version; it never
/// initialises the driver or touches a GPU, so it is safe (and fast) on machines without one.
/// </summary>
public static unsafe class CudaLibraries
{
    /// <summary>The driver API library is installed with the NVIDIA driver and only ever has this soname.</summary>
    public const string DriverFileName = "libcuda.so.1";

    /// <summary>
    /// Environment variable that names an explicit driver library: the CPU emulator's (tests/CudaEmulator) in CI, or a
    /// driver outside the loader's path.
    /// </summary>
    public const string DriverPathVariable = "PIXELLLM_CUDA_DRIVER";

    /// <summary>cuBLAS file names, newest CUDA first.</summary>
    public static readonly IReadOnlyList<string> CublasFileNames = ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"];

    /// <summary>Environment variable that names an explicit libcublas path.</summary>
    public const string CublasPathVariable = "PIXELLLM_CUBLAS";

    /// <summary>cuBLASLt file names, newest CUDA first (it ships beside libcublas).</summary>
    public static readonly IReadOnlyList<string> CublasLtFileNames = ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"];

    /// <summary>Environment variable that names an explicit libcublasLt path.</summary>
    public const string CublasLtPathVariable = "PIXELLLM_CUBLASLT_LIB";

    /// <summary>libcublasLt and its version (cublasLtGetVersion: major·10000 + minor·100 + patch).</summary>
    public static CudaLibraryStatus ProbeCublasLt()
    {
        var probe = NativeLibraryProbe.Load("libcublasLt", CublasLtFileNames, CublasLtPathVariable);
        if (!probe.Found) return new CudaLibraryStatus("libcublasLt", null, null, probe.WhyNot);
        string? version = null;
        if (NativeLibrary.TryGetExport(probe.Handle, "cublasLtGetVersion", out var fn))
        {
            long v = (long)((delegate* unmanaged<nuint>)fn)();
            version = $"{v / 10000}.{v / 100 % 100}.{v % 100}";
        }
        return new CudaLibraryStatus("libcublasLt", probe.Path, version, null);
    }

    /// <summary>libcuda.so.1 and the newest CUDA version its driver supports (cuDriverGetVersion), e.g. "13.0".</summary>
    public static CudaLibraryStatus ProbeDriver()
    {
        var probe = NativeLibraryProbe.Load("libcuda", [DriverFileName], DriverPathVariable);
        if (!probe.Found) return new CudaLibraryStatus("libcuda", null, null, $"no CUDA driver ({DriverFileName} not found)");
        string? version = null;
        if (NativeLibrary.TryGetExport(probe.Handle, "cuDriverGetVersion", out var fn))
        {
            int v;
            if (((delegate* unmanaged<int*, int>)fn)(&v) == 0) version = $"{v / 1000}.{v % 1000 / 10}";
        }
        return new CudaLibraryStatus("libcuda", probe.Path, version, null);
    }

    /// <summary>libnvrtc (see <see cref="Nvrtc"/> for the search order) and its version.</summary>
    public static CudaLibraryStatus ProbeNvrtc()
    {
        var nvrtc = Nvrtc.TryLoad(out var whyNot);
        return nvrtc is null
            ? new CudaLibraryStatus("libnvrtc", null, null, whyNot)
            : new CudaLibraryStatus("libnvrtc", nvrtc.LibraryPath, nvrtc.Version.ToString(), null);
    }

    /// <summary>libcublas and its version (cublasGetProperty, which needs no handle and no GPU).</summary>
    public static CudaLibraryStatus ProbeCublas()
    {
        var probe = NativeLibraryProbe.Load("libcublas", CublasFileNames, CublasPathVariable);
        if (!probe.Found) return new CudaLibraryStatus("libcublas", null, null, probe.WhyNot);
        string? version = null;
        if (NativeLibrary.TryGetExport(probe.Handle, "cublasGetProperty", out var fn))
        {
            var getProperty = (delegate* unmanaged<int, int*, int>)fn;
            int major, minor, patch; // libraryPropertyType: MAJOR_VERSION = 0, MINOR_VERSION = 1, PATCH_LEVEL = 2
            if (getProperty(0, &major) == 0 && getProperty(1, &minor) == 0 && getProperty(2, &patch) == 0)
                version = $"{major}.{minor}.{patch}";
        }
        return new CudaLibraryStatus("libcublas", probe.Path, version, null);
    }
}
