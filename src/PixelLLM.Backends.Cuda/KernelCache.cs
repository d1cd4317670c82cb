using System.Security.Cryptography;
using System.Text;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// Compiled kernels on disk, one image file and one log file per key, under $XDG_CACHE_HOME/pixelllm/kernels
/// (~/.cache/pixelllm/kernels when unset). The key hashes everything that changes the output, so entries never
/// need invalidating; stale ones are just never read again.
/// </summary>
public sealed class KernelCache(string directory)
{
    /// <summary>The cache folder.</summary>
    public string Directory { get; } = directory;

    /// <summary>The per-user default location.</summary>
    public static KernelCache Default() => new(CacheFolder("kernels"));

    /// <summary>
    /// $XDG_CACHE_HOME/pixelllm/<paramref name="name"/> (~/.cache when unset): where the engine's on-disk caches live;
    /// <paramref name="environment"/> reads the variable (the process's environment when null).
    /// </summary>
    internal static string CacheFolder(string name, Func<string, string?>? environment = null)
    {
        var root = (environment ?? Environment.GetEnvironmentVariable)("XDG_CACHE_HOME");
        if (string.IsNullOrEmpty(root))
            root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "pixelllm", name);
    }

    /// <summary>SHA-256 (hex) over the sources, the target, the NVRTC version and the options.</summary>
    public static string Key(string sourceName, string source, string headers, string target, Version nvrtcVersion, IEnumerable<string> options)
    {
        var text = string.Join('\0', new[] { "pixelllm-kernel-v1", sourceName, source, headers, target, nvrtcVersion.ToString() }.Concat(options));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The cached image and log for <paramref name="key"/>, if both are there.</summary>
    public bool TryRead(string key, KernelImageKind kind, out byte[] image, out string log)
    {
        image = [];
        log = "";
        var imagePath = ImagePath(key, kind);
        var logPath = Path.Combine(Directory, key + ".log");
        if (!File.Exists(imagePath) || !File.Exists(logPath)) return false;
        try
        {
            image = File.ReadAllBytes(imagePath);
            log = File.ReadAllText(logPath);
            return true;
        }
        catch (IOException) { return false; } // e.g. removed between the check and the read: just compile again
    }

    /// <summary>
    /// Stores an entry. The log goes last and each file is renamed into place, so a reader that sees the log also sees
    /// a complete image. A cache that cannot be written (read-only home, full disk) only costs a recompile next time.
    /// </summary>
    public void Write(string key, KernelImageKind kind, byte[] image, string log)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            WriteAtomically(ImagePath(key, kind), path => File.WriteAllBytes(path, image));
            WriteAtomically(Path.Combine(Directory, key + ".log"), path => File.WriteAllText(path, log));
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private string ImagePath(string key, KernelImageKind kind) => Path.Combine(Directory, key + (kind == KernelImageKind.Cubin ? ".cubin" : ".ptx"));

    private static void WriteAtomically(string path, Action<string> write)
    {
        var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        write(temp);
        File.Move(temp, path, overwrite: true);
    }
}
