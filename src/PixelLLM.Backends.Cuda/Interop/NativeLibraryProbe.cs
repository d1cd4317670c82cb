using System.Runtime.InteropServices;

namespace PixelLLM.Backends.Cuda.Interop;

/// <summary>The outcome of looking for one shared library: its handle and file, or why it was not found.</summary>
/// <param name="Library">What was looked for, e.g. "libnvrtc".</param>
/// <param name="Handle">The loaded library, or 0.</param>
/// <param name="Path">The file that was loaded (symlinks resolved where the loader picked it), or null.</param>
/// <param name="WhyNot">When not found: a sentence naming what was tried.</param>
public sealed record LibraryProbeResult(string Library, nint Handle, string? Path, string? WhyNot)
{
    public bool Found => Handle != 0;

    /// <summary>The address of export <paramref name="name"/>; a missing one is a <see cref="PixelLLM.Runtime.BackendException"/> naming the file.</summary>
    public nint Export(string name) => NativeLibrary.TryGetExport(Handle, name, out var address) ? address
        : throw new PixelLLM.Runtime.BackendException($"{Path} has no export {name}");
}

/// <summary>
/// Finds a CUDA shared library over an ordered candidate list: an environment override, then the loader's own
/// search (LD_LIBRARY_PATH, ldconfig cache) by soname, then /usr/local/cuda/lib64, then the lib folders of pip's
/// nvidia-* wheels (site-packages/nvidia/*/lib) in the usual Python prefixes.
/// </summary>
public static class NativeLibraryProbe
{
    private static readonly string[] CudaToolkitDirs = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"];

    /// <summary>
    /// Loads the first candidate that opens. When <paramref name="envVariable"/> is set, only its path is tried, so
    /// an explicit choice never silently falls back to another copy.
    /// </summary>
    /// <param name="library">Display name, e.g. "libnvrtc".</param>
    /// <param name="fileNames">File names in order of preference, e.g. libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so.</param>
    /// <param name="envVariable">Variable holding an explicit path, or null.</param>
    /// <summary><see cref="Load"/>, where not finding it is a <see cref="PixelLLM.Runtime.BackendException"/> ("cuBLAS is not available: …").</summary>
    public static LibraryProbeResult Require(string what, string library, IReadOnlyList<string> fileNames, string? envVariable = null)
    {
        var probe = Load(library, fileNames, envVariable);
        return probe.Found ? probe : throw new PixelLLM.Runtime.BackendException($"{what} is not available: {probe.WhyNot}");
    }

    public static LibraryProbeResult Load(string library, IReadOnlyList<string> fileNames, string? envVariable = null)
    {
        var overridePath = envVariable is null ? null : Environment.GetEnvironmentVariable(envVariable);
        if (!string.IsNullOrEmpty(overridePath))
        {
            return NativeLibrary.TryLoad(overridePath, out var h)
                ? new LibraryProbeResult(library, h, Path.GetFullPath(overridePath), null)
                : new LibraryProbeResult(library, 0, null, $"{envVariable}={overridePath} could not be loaded");
        }

        foreach (var name in fileNames)
        {
            if (NativeLibrary.TryLoad(name, out var h))
                return new LibraryProbeResult(library, h, LoadedFile(name) ?? name, null);
        }

        var searchedDirs = new List<string>();
        foreach (var dir in CudaToolkitDirs.Concat(PipNvidiaLibDirs()))
        {
            if (!Directory.Exists(dir)) continue;
            searchedDirs.Add(dir);
            foreach (var name in fileNames)
            {
                var path = Path.Combine(dir, name);
                if (File.Exists(path) && NativeLibrary.TryLoad(path, out var h))
                    return new LibraryProbeResult(library, h, path, null);
            }
        }

        var where = searchedDirs.Count == 0 ? "no CUDA toolkit or pip nvidia/*/lib folder exists" : "nor in " + string.Join(", ", searchedDirs);
        var env = envVariable is null ? "" : $"; set {envVariable} to its path";
        return new LibraryProbeResult(library, 0, null,
            $"{string.Join(", ", fileNames)} not found by the loader, {where}{env}");
    }

    /// <summary>
    /// The file the dynamic loader actually mapped for a soname (e.g. libnvrtc.so.11.2 → …/libnvrtc.so.11.8.89),
    /// read from /proc/self/maps; null where that is not available.
    /// </summary>
    private static string? LoadedFile(string soname)
    {
        var stem = soname.Split(".so")[0] + ".so";
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash < 0) continue;
                var path = line[slash..];
                if (Path.GetFileName(path).StartsWith(stem, StringComparison.Ordinal)) return path;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>site-packages/nvidia/*/lib under the active virtualenv/conda env, the user site and the system prefixes.</summary>
    private static IEnumerable<string> PipNvidiaLibDirs()
    {
        var prefixes = new List<string>();
        foreach (var variable in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } p) prefixes.Add(Path.Combine(p, "lib"));
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0) prefixes.Add(Path.Combine(home, ".local", "lib"));
        prefixes.AddRange(["/usr/local/lib", "/usr/lib", "/opt/conda/lib"]);

        foreach (var prefix in prefixes)
        {
            if (!Directory.Exists(prefix)) continue;
            foreach (var python in SafeDirectories(prefix, "python3*"))
                foreach (var packages in new[] { "site-packages", "dist-packages" })
                {
                    var nvidia = Path.Combine(python, packages, "nvidia");
                    if (!Directory.Exists(nvidia)) continue;
                    foreach (var package in SafeDirectories(nvidia, "*"))
                        yield return Path.Combine(package, "lib");
                }
        }
    }

    private static IEnumerable<string> SafeDirectories(string dir, string pattern)
    {
        try { return Directory.GetDirectories(dir, pattern).Order(StringComparer.Ordinal).ToArray(); }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }
}
