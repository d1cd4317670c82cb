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

    /// <summary>
    /// The engine name of a scenic path under <c>textual/</c> (the inverse of <see cref="ToScenic"/>), or null when the
    /// path is not a GIT-decoder parameter (e.g. <c>textual/t5_module/…</c>).
    /// </summary>
    public static string? FromScenic(string scenicPath)
    {
        ArgumentNullException.ThrowIfNull(scenicPath);
        if (!scenicPath.StartsWith(ScenicPrefix + "/", StringComparison.Ordinal)) return null;
        int lastSlash = scenicPath.LastIndexOf('/');
        string path = scenicPath[(ScenicPrefix.Length + 1)..lastSlash], leaf = scenicPath[(lastSlash + 1)..];
        string? module = path switch
        {
            "visual_projection.0" => "visual_projection",
            "visual_projection.1" => "visual_projection_norm",
            "embedding/words" => "embedding.words",
            "embedding/positions" => "embedding.positions",
            "embedding/layer_norm" => "embedding.norm",
            "output" => "output",
            _ => LayerModule(path),
        };
        if (module is null) return null;
        var engine = $"{EnginePrefix}.{module}.{(leaf == "bias" ? "bias" : "weight")}";
        // The forward rules decide which leaves each module has: keep only exact round trips.
        return ToScenic(engine)?.ScenicName == scenicPath ? engine : null;
    }

    private static string? LayerModule(string path)
    {
        const string layers = "transformer/encoder/layer.";
        if (!path.StartsWith(layers, StringComparison.Ordinal)) return null;
        int slash = path.IndexOf('/', layers.Length);
        if (slash < 0) return null;
        var inner = path[(slash + 1)..];
        var module = LayerModules.FirstOrDefault(m => m.Value.Path == inner).Key;
        return module is null ? null : $"layers.{path[layers.Length..slash]}.{module}";
    }

    /// <summary>
    /// Every scenic parameter of the decoder with its Flax shape: Dense kernels (in, out), <paramref name="visualDim"/> =
    /// width of the prompt-adapter tokens entering <c>visual_projection.0</c>.
    /// </summary>
    public static IReadOnlyDictionary<string, int[]> ScenicShapes(GitDecoderConfig c, int visualDim)
    {
        var s = new Dictionary<string, int[]>(StringComparer.Ordinal);
        int d = c.Hidden, ffn = c.IntermediateSize;
        foreach (var engine in EngineNames(c.NumLayers))
        {
            var (scenic, _) = ToScenic(engine)!.Value;
            bool bias = engine.EndsWith(".bias", StringComparison.Ordinal);
            var module = engine[(EnginePrefix.Length + 1)..engine.LastIndexOf('.')];
            // Per-layer modules after "layers.i.": attention.*, attention_norm, intermediate, output, output_norm.
            var layerModule = module.StartsWith("layers.", StringComparison.Ordinal) ? module[(module.IndexOf('.', "layers.".Length) + 1)..] : null;
            s[scenic] = (module, layerModule) switch
            {
                ("visual_projection", _) => bias ? [d] : [visualDim, d],
                ("embedding.words", _) => [c.VocabSize, d],
                ("embedding.positions", _) => [c.PositionTable, d],
                ("output", _) => bias ? [c.VocabSize] : [d, c.VocabSize],
                (_, "intermediate") => bias ? [ffn] : [d, ffn],
                (_, "output") => bias ? [d] : [ffn, d],
                _ => bias || module.EndsWith("norm", StringComparison.Ordinal) ? [d] : [d, d],   // norms; attention q/k/v/output
            };
        }
        return s;
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
