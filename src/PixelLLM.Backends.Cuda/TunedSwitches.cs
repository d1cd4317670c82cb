using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// One card's tuned switch values, as `pixelllm tune` measured them: the paths that were checked against the CPU backend
/// and timed faster than the built-in defaults on that card, for this build of the engine. Stored as JSON under
/// $XDG_CACHE_HOME/pixelllm/tuned/ (one file per device name and arch); <see cref="CudaSwitchSettings"/> applies it.
/// </summary>
/// <param name="Device">The device name the values were measured on ("NVIDIA H200").</param>
/// <param name="Arch">Its architecture ("sm_90").</param>
/// <param name="Engine">The engine build they hold for (<see cref="EngineKey"/>): another build's kernels may time otherwise.</param>
/// <param name="Values">Switch name → value, tunable switches only.</param>
public sealed record TunedSwitches(string Device, string Arch, string Engine, IReadOnlyDictionary<string, string> Values)
{
    /// <summary>The format tag the file starts with.</summary>
    public const string Format = "pixelllm-tuned/1";

    /// <summary>
    /// Environment variable: unset takes the card's profile from <see cref="DefaultPath"/>, 0 ignores every profile (the
    /// built-in defaults; what `tune` runs its measurements with), anything else is the profile file to use.
    /// </summary>
    public const string Variable = "PIXELLLM_TUNED";

    /// <summary>
    /// $XDG_CACHE_HOME/pixelllm/tuned/&lt;device&gt;-&lt;arch&gt;.json, the name reduced to letters, digits, '.', '-' and '_';
    /// <paramref name="environment"/> reads XDG_CACHE_HOME (the process's environment when null).
    /// </summary>
    public static string DefaultPath(string device, string arch, Func<string, string?>? environment = null) =>
        Path.Combine(KernelCache.CacheFolder("tuned", environment), new string($"{device}-{arch}".Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray()) + ".json");

    /// <summary>This build: the CUDA backend's version (with its commit) and a hash of every kernel source and header.</summary>
    public static string EngineKey => LazyEngineKey.Value;

    private static readonly Lazy<string> LazyEngineKey = new(() =>
    {
        var version = typeof(TunedSwitches).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
        var sources = string.Concat(KernelSources.KernelFiles.Select(f => f + "\0" + KernelSources.Read(f) + "\0")) + KernelSources.HeadersKey;
        return $"{version}; kernels {Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sources)))[..16]}";
    });

    /// <summary>
    /// Reads a profile. Throws <see cref="InvalidDataException"/> naming the file and what is wrong when it is not a
    /// profile: unreadable JSON, another format, a missing field, or a switch that is not tunable.
    /// </summary>
    public static TunedSwitches Read(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            string Field(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()! : throw new InvalidDataException($"{path}: field '{name}' must be a string");
            if (Field("format") != Format) throw new InvalidDataException($"{path}: format '{Field("format")}' is not {Format}");
            if (!root.TryGetProperty("switches", out var switches) || switches.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: field 'switches' must be an object of name → value");
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var s in switches.EnumerateObject())
            {
                if (!CudaSwitches.All.Any(c => c.Name == s.Name && c.Tunable))
                    throw new InvalidDataException($"{path}: switch '{s.Name}' is not one `pixelllm tune` sets");
                values[s.Name] = s.Value.ValueKind == JsonValueKind.String ? s.Value.GetString()!
                    : throw new InvalidDataException($"{path}: switch '{s.Name}' must have a string value");
            }
            return new TunedSwitches(Field("device"), Field("arch"), Field("engine"), values);
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not JSON ({e.Message})"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new InvalidDataException($"{path}: cannot be read ({e.Message})"); }
    }

    /// <summary>
    /// Writes the profile with <paramref name="evidence"/> (what `tune` measured, for people; never read back) beside
    /// the values, renamed into place so a reader never sees half of it.
    /// </summary>
    public void Write(string path, Action<Utf8JsonWriter> evidence)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = File.Create(temp))
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                w.WriteStartObject();
                w.WriteString("format", Format);
                w.WriteString("device", Device);
                w.WriteString("arch", Arch);
                w.WriteString("engine", Engine);
                w.WriteString("date_utc", DateTime.UtcNow.ToString("u"));
                w.WriteStartObject("switches");
                foreach (var (name, value) in Values.OrderBy(v => v.Key, StringComparer.Ordinal)) w.WriteString(name, value);
                w.WriteEndObject();
                evidence(w);
                w.WriteEndObject();
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
