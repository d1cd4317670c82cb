using System.Text.Json;

namespace PixelLLM.Backends.Cuda.Device;

/// <summary>
/// What GEMM tuning chose, on disk per device and cuBLASLt version (next to the kernel cache), so a later process takes
/// the same algorithm for the same shape without timing it again: the same numbers run to run, and no tuning cost at
/// start-up. An entry is keyed by the call's shape, types and alignments and only used when the heuristic offers the
/// same number of candidates it was chosen among (the heuristic's order is a function of those, the library and the
/// card). A missing, unreadable or corrupt file is an empty cache; one that cannot be written only costs timing again.
/// </summary>
internal sealed class GemmTuningCache
{
    private const int FormatVersion = 1;
    private readonly Dictionary<string, (int Candidates, int Choice)> entries = new(StringComparer.Ordinal);

    /// <summary>The cache of <paramref name="path"/> as it is on disk now (empty when absent or unreadable).</summary>
    public GemmTuningCache(string path)
    {
        Path = path;
        try
        {
            if (!File.Exists(path)) return;
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            if (!root.TryGetProperty("version", out var version) || version.GetInt32() != FormatVersion) return;
            foreach (var e in root.GetProperty("entries").EnumerateObject())
                entries[e.Name] = (e.Value.GetProperty("candidates").GetInt32(), e.Value.GetProperty("choice").GetInt32());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException
                                   or KeyNotFoundException or FormatException)
        {
            entries.Clear(); // a damaged file tunes again and is rewritten
        }
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Entries held.</summary>
    public int Count => entries.Count;

    /// <summary>
    /// The file for this card, library and timing method: $XDG_CACHE_HOME/pixelllm/gemm-tuning/&lt;device&gt;-&lt;arch&gt;-cublasLt-&lt;version&gt;-coldL2.json
    /// (~/.cache when unset), the name reduced to letters, digits, '.', '-' and '_'.
    /// </summary>
    public static string DefaultPath(string device, string arch, string cublasLtVersion)
    {
        var name = new string($"{device}-{arch}-cublasLt-{cublasLtVersion}-{GemmAlgorithmTuner.TimingMethod}".Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray());
        return System.IO.Path.Combine(KernelCache.CacheFolder("gemm-tuning"), name + ".json");
    }

    /// <summary>The choice stored for <paramref name="key"/> among <paramref name="candidates"/>, if there is one.</summary>
    public bool TryGet(string key, int candidates, out int choice)
    {
        choice = 0;
        if (!entries.TryGetValue(key, out var e) || e.Candidates != candidates || e.Choice < 0 || e.Choice >= candidates) return false;
        choice = e.Choice;
        return true;
    }

    /// <summary>Stores a choice and writes the file (renamed into place: a reader never sees half of it).</summary>
    public void Set(string key, int candidates, int choice)
    {
        entries[key] = (candidates, choice);
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            var temp = $"{Path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            using (var stream = File.Create(temp))
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteNumber("version", FormatVersion);
                w.WriteStartObject("entries");
                foreach (var (k, v) in entries.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    w.WriteStartObject(k);
                    w.WriteNumber("candidates", v.Candidates);
                    w.WriteNumber("choice", v.Choice);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            File.Move(temp, Path, overwrite: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
