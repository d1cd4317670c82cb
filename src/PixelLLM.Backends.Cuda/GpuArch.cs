using System.Globalization;

namespace PixelLLM.Backends.Cuda;

/// <summary>A compile target: the SM version (80 for sm_80) and whether it is the arch-specific "a" variant (sm_90a).</summary>
public readonly record struct GpuArch(int Version, bool ArchSpecific = false)
{
    public static GpuArch Sm80 => new(80);
    public static GpuArch Sm90 => new(90);
    public static GpuArch Sm90a => new(90, true);

    /// <summary>Parses "sm_80", "sm_90a" (or "80", "90a").</summary>
    public static GpuArch Parse(string text)
    {
        var body = text.StartsWith("sm_", StringComparison.Ordinal) ? text[3..] : text;
        bool specific = body.EndsWith('a');
        if (specific) body = body[..^1];
        return int.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out int version) && version >= 10
            ? new GpuArch(version, specific)
            : throw new ArgumentException($"'{text}' is not a GPU architecture like sm_80 or sm_90a", nameof(text));
    }

    /// <summary>"sm_80", "sm_90a".</summary>
    public override string ToString() => $"sm_{Version}{(ArchSpecific ? "a" : "")}";
}
