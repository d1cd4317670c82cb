using System.Security.Cryptography;
using System.Text;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// CUBINs built ahead of time by CMakeLists.txt with nvcc: <c>&lt;dir&gt;/&lt;sm_XX&gt;/&lt;file&gt;.cubin</c>, each next to a
/// <c>.key</c> stamp of the sources it was built from (<c>cmake/kernel_key.cmake</c>). The engine loads one instead of
/// compiling with NVRTC when its stamp equals <see cref="SourceKey"/> of the sources embedded in this build, so a stale
/// build directory is ignored file by file, and a deployment with every CUBIN needs no NVRTC at all.
/// </summary>
public sealed class PrebuiltKernels(string directory)
{
    /// <summary>Environment variable naming the directory (the <c>pixelllm</c> script sets it to build/kernels when that exists).</summary>
    public const string Variable = "PIXELLLM_KERNEL_CUBINS";

    /// <summary>The directory holding one folder per architecture.</summary>
    public string Directory { get; } = directory;

    /// <summary>The directory named by <see cref="Variable"/>, or null when it is unset or empty.</summary>
    public static PrebuiltKernels? FromEnvironment() =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } dir ? new PrebuiltKernels(dir) : null;

    /// <summary>
    /// The stamp of a kernel file's sources: SHA-256 (hex) of "pixelllm-aot-v1\n" then "&lt;name&gt; &lt;SHA-256 of its bytes&gt;\n"
    /// for the file and for every header (*.cuh, sorted by name) — what cmake/kernel_key.cmake writes.
    /// </summary>
    public static string SourceKey(string kernelFile) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("pixelllm-aot-v1\n" + FileLine(kernelFile) + HeaderLines.Value)));

    /// <summary>The headers' part of every stamp, the same for all kernel files: hashed once.</summary>
    private static readonly Lazy<string> HeaderLines = new(() => string.Concat(KernelSources.Headers.Select(h => FileLine(h.Name))));

    private static string FileLine(string name) => $"{name} {Convert.ToHexStringLower(SHA256.HashData(KernelSources.ReadBytes(name)))}\n";

    /// <summary>The CUBIN of <paramref name="kernelFile"/> for exactly <paramref name="arch"/>, if one is there with a current stamp.</summary>
    public bool TryRead(string kernelFile, GpuArch arch, out byte[] image, out string path)
    {
        image = [];
        path = Path.Combine(Directory, arch.ToString(), kernelFile[..^Path.GetExtension(kernelFile).Length] + ".cubin");
        try
        {
            if (!File.Exists(path) || !File.Exists(path + ".key")) return false;
            if (File.ReadAllText(path + ".key").Trim() != SourceKey(kernelFile)) return false;
            image = File.ReadAllBytes(path);
            return image.Length > 0;
        }
        catch (IOException) { return false; }                // unreadable: NVRTC compiles it as if it were not there
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>How many kernel files have a current CUBIN for <paramref name="arch"/> (for <c>pixelllm info</c>).</summary>
    public int CountCurrent(GpuArch arch) => KernelSources.KernelFiles.Count(f => TryRead(f, arch, out _, out _));
}
