namespace PixelLLM.Models.Checkpoints;

/// <summary>
/// Where each GIT-decoder parameter lives in a scenic PixelLLM checkpoint (spec §5.2, §9). Engine names
/// (<c>git.layers.0.attention.query.weight</c> …) use PyTorch layouts (Linear weight (out, in)); scenic names are the
/// Flax parameter paths joined with '/' under <c>textual/</c>, whose Dense kernels are (in, out), so every
/// <c>kernel</c> needs a transpose. Self-contained so a whole-checkpoint converter can call it.
/// </summary>
public static class ScenicGitNames
{
    /// <summary>Engine-name prefix of the GIT decoder's parameters.</summary>
    public const string EnginePrefix = "git";

    /// <summary>scenic's module path of the textual head.</summary>
    public const string ScenicPrefix = "textual";

    /// <summary>
    /// The scenic path of <paramref name="engineName"/> and whether its 2-D tensor must be transposed; null when the
    /// name is not a GIT-decoder parameter.
    /// </summary>
    public static (string ScenicName, bool Transpose)? ToScenic(string engineName)
    {
        ArgumentNullException.ThrowIfNull(engineName);
        if (!engineName.StartsWith(EnginePrefix + ".", StringComparison.Ordinal)) return null;
        var rest = engineName[(EnginePrefix.Length + 1)..];
        int lastDot = rest.LastIndexOf('.');
        if (lastDot < 0) return null;
        string module = rest[..lastDot], leaf = rest[(lastDot + 1)..];
        var path = ModulePath(module);
        if (path is null) return null;
        return path.Value.Kind switch
        {
            ModuleKind.Dense => leaf switch
            {
                "weight" => ($"{ScenicPrefix}/{path.Value.Path}/kernel", true),
                "bias" => ($"{ScenicPrefix}/{path.Value.Path}/bias", false),
                _ => null,
            },
            ModuleKind.Norm => leaf switch
            {
                "weight" => ($"{ScenicPrefix}/{path.Value.Path}/scale", false),
                "bias" => ($"{ScenicPrefix}/{path.Value.Path}/bias", false),
                _ => null,
            },
            _ => leaf == "weight" ? ($"{ScenicPrefix}/{path.Value.Path}/embedding", false) : null,
        };
    }

    /// <summary>Every engine name of a decoder with <paramref name="numLayers"/> layers, in module order.</summary>
    public static IEnumerable<string> EngineNames(int numLayers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(numLayers);
        string[] dense = ["weight", "bias"];
        foreach (var m in new[] { "visual_projection", "visual_projection_norm" })
            foreach (var leaf in dense) yield return $"{EnginePrefix}.{m}.{leaf}";
        yield return $"{EnginePrefix}.embedding.words.weight";
        yield return $"{EnginePrefix}.embedding.positions.weight";
        foreach (var leaf in dense) yield return $"{EnginePrefix}.embedding.norm.{leaf}";
        for (int i = 0; i < numLayers; i++)
            foreach (var m in LayerModules.Keys)
                foreach (var leaf in dense) yield return $"{EnginePrefix}.layers.{i}.{m}.{leaf}";
        foreach (var leaf in dense) yield return $"{EnginePrefix}.output.{leaf}";
    }

    private enum ModuleKind { Dense, Norm, Embedding }

    // Per-layer engine module → path below scenic's layer.{i}.
    private static readonly Dictionary<string, (string Path, ModuleKind Kind)> LayerModules = new(StringComparer.Ordinal)
    {
        ["attention.query"] = ("attention/self/query", ModuleKind.Dense),
        ["attention.key"] = ("attention/self/key", ModuleKind.Dense),
        ["attention.value"] = ("attention/self/value", ModuleKind.Dense),
        ["attention.output"] = ("attention/output/dense", ModuleKind.Dense),
        ["attention_norm"] = ("attention/output/LayerNorm", ModuleKind.Norm),
        ["intermediate"] = ("intermediate/dense", ModuleKind.Dense),
        ["output"] = ("output/dense", ModuleKind.Dense),
        ["output_norm"] = ("output/LayerNorm", ModuleKind.Norm),
    };

    private static (string Path, ModuleKind Kind)? ModulePath(string module)
    {
        switch (module)
        {
            case "visual_projection": return ("visual_projection.0", ModuleKind.Dense);
            case "visual_projection_norm": return ("visual_projection.1", ModuleKind.Norm);
            case "embedding.words": return ("embedding/words", ModuleKind.Embedding);
            case "embedding.positions": return ("embedding/positions", ModuleKind.Embedding);
            case "embedding.norm": return ("embedding/layer_norm", ModuleKind.Norm);
            case "output": return ("output", ModuleKind.Dense);
        }
        const string layers = "layers.";
        if (!module.StartsWith(layers, StringComparison.Ordinal)) return null;
        int dot = module.IndexOf('.', layers.Length);
        if (dot < 0 || !int.TryParse(module.AsSpan(layers.Length, dot - layers.Length), System.Globalization.NumberStyles.None, null, out int index))
            return null;
        if (module[layers.Length..dot] != index.ToString(System.Globalization.CultureInfo.InvariantCulture)) return null;   // no "01"
        return LayerModules.TryGetValue(module[(dot + 1)..], out var m)
            ? ($"transformer/encoder/layer.{index}/{m.Path}", m.Kind)
            : null;
    }
}
