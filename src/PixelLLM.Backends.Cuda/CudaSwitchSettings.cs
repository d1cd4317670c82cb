using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// The switch values one CUDA backend runs with (<see cref="CudaSwitches"/>): a switch set in the environment wins, else
/// this card's tuned profile gives it (<see cref="TunedSwitches"/>, written by `pixelllm tune`), else its built-in default
/// holds. The profile is looked up by device name and arch; one tuned on another card or for another engine build is
/// not applied (<see cref="TunedStatus"/> says why).
/// </summary>
public sealed class CudaSwitchSettings
{
    private readonly Func<string, string?> environment;

    private CudaSwitchSettings(string device, string arch, Func<string, string?> environment, TunedSwitches? tuned, string status) =>
        (Device, Arch, this.environment, Tuned, TunedStatus) = (device, arch, environment, tuned, status);

    /// <summary>The device name these settings were resolved for ("NVIDIA H200").</summary>
    public string Device { get; }

    /// <summary>Its architecture ("sm_90").</summary>
    public string Arch { get; }

    /// <summary>The profile applied, or null.</summary>
    public TunedSwitches? Tuned { get; }

    /// <summary>One line: which profile applies and what it sets, or why none does.</summary>
    public string TunedStatus { get; }

    /// <summary>
    /// The settings for <paramref name="device"/> (<paramref name="arch"/>): its profile at the default path unless
    /// $PIXELLLM_TUNED says otherwise. A profile at the default path that is damaged or stale is skipped (it is a cache);
    /// one named by $PIXELLLM_TUNED that cannot apply throws <see cref="BackendException"/> saying why.
    /// <paramref name="environment"/> reads every variable (the process's environment when null).
    /// </summary>
    public static CudaSwitchSettings ForDevice(string device, string arch, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var setting = environment(TunedSwitches.Variable);
        if (setting == "0") return new(device, arch, environment, null, $"off (${TunedSwitches.Variable}=0: built-in defaults)");
        bool named = !string.IsNullOrEmpty(setting);
        var path = named ? setting! : TunedSwitches.DefaultPath(device, arch, environment);
        string? problem = null;
        TunedSwitches? tuned = null;
        if (!File.Exists(path))
        {
            if (!named) return new(device, arch, environment, null, $"none for this card (`pixelllm tune` writes {path})");
            problem = $"{path} does not exist";
        }
        else
        {
            try { tuned = TunedSwitches.Read(path); }
            catch (InvalidDataException e) { problem = e.Message; }
        }
        if (tuned is not null && (tuned.Device != device || tuned.Arch != arch))
            problem = $"{path} was tuned on {tuned.Device} ({tuned.Arch}), this is {device} ({arch})";
        else if (tuned is not null && tuned.Engine != TunedSwitches.EngineKey)
            problem = $"{path} was tuned for engine {tuned.Engine}, this is {TunedSwitches.EngineKey}: run `pixelllm tune` again";
        if (problem is not null)
            return named ? throw new BackendException($"${TunedSwitches.Variable}: {problem}") : new(device, arch, environment, null, $"skipped: {problem}");
        var set = tuned!.Values.Count == 0 ? "every built-in default kept" : string.Join(" ", tuned.Values.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => $"{v.Key}={v.Value}"));
        return new(device, arch, environment, tuned, $"{path}: {set}");
    }

    /// <summary>The value of switch <paramref name="name"/>: the environment's, else the profile's, else null (the default).</summary>
    public string? Get(string name) =>
        environment(name) is { Length: > 0 } value ? value : Tuned?.Values.GetValueOrDefault(name);

    /// <summary>Where <see cref="Get"/>'s value comes from: "environment", "tuned" or "default".</summary>
    public string Source(string name) =>
        environment(name) is { Length: > 0 } ? "environment" : Tuned?.Values.ContainsKey(name) == true ? "tuned" : "default";
}
