using System.Reflection;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// The kernels/ tree, embedded in this assembly as resources named "kernels/&lt;file&gt;", so a published binary
/// carries its kernels and compiles them with NVRTC wherever it runs.
/// </summary>
public static class KernelSources
{
    /// <summary>The header every kernel includes; passed to NVRTC as an in-memory header under this name.</summary>
    public const string PreludeName = "prelude.cuh";

    private const string Prefix = "kernels/";

    private static readonly Assembly Self = typeof(KernelSources).Assembly;

    /// <summary>The kernel sources (*.cu), by file name, sorted.</summary>
    public static IReadOnlyList<string> KernelFiles { get; } = Self.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".cu", StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..])
        .Order(StringComparer.Ordinal)
        .ToArray();

    /// <summary>The text of <see cref="PreludeName"/>, read once.</summary>
    public static string Prelude => LazyPrelude.Value;

    private static readonly Lazy<string> LazyPrelude = new(() => Read(PreludeName));

    /// <summary>
    /// Every header (*.cuh: the prelude and what several kernel files share), by name, sorted: NVRTC gets them all as
    /// in-memory headers, and a kernel's cache key covers them all.
    /// </summary>
    public static IReadOnlyList<(string Name, string Source)> Headers => LazyHeaders.Value;

    private static readonly Lazy<(string, string)[]> LazyHeaders = new(() => Self.GetManifestResourceNames()
        .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".cuh", StringComparison.Ordinal))
        .Select(n => n[Prefix.Length..])
        .Order(StringComparer.Ordinal)
        .Select(n => (n, Read(n)))
        .ToArray());

    /// <summary>Every header's name and text in one string, what a kernel's cache key covers of them (made once).</summary>
    public static string HeadersKey => LazyHeadersKey.Value;

    private static readonly Lazy<string> LazyHeadersKey = new(() => string.Concat(Headers.Select(h => h.Name + "\0" + h.Source + "\0")));

    /// <summary>The bytes of an embedded kernel file or header, as they are in kernels/ (what an ahead-of-time build stamps).</summary>
    public static byte[] ReadBytes(string fileName)
    {
        using var stream = Open(fileName);
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }

    /// <summary>The text of an embedded kernel file or header, e.g. "softmax.cu" or "prelude.cuh".</summary>
    public static string Read(string fileName)
    {
        using var reader = new StreamReader(Open(fileName));
        return reader.ReadToEnd();
    }

    private static Stream Open(string fileName) => Self.GetManifestResourceStream(Prefix + fileName)
        ?? throw new ArgumentException($"no kernel source '{fileName}' is embedded; known: {string.Join(", ", KernelFiles)}", nameof(fileName));
}
