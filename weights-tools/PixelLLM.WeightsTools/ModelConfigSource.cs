using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Models;
using PixelLLM.Runtime;

namespace PixelLLM.WeightsTools;

/// <summary>A model config as the tools take it: the scenic-style JSON object, the parsed config and the name it came from.</summary>
/// <param name="Json">The scenic-style "model" object (a fresh copy, safe to modify).</param>
/// <param name="Config">The parsed configuration.</param>
/// <param name="Name">The named config, or null for one read from a file.</param>
public sealed record ModelConfigSource(JsonObject Json, PixelLlmConfig Config, string? Name)
{
    /// <summary>
    /// <paramref name="nameOrFile"/> as a JSON file (a scenic-style model object, a document with a "config" member such as
    /// a golden case, or a model directory's config.json with a "model" member), or else as a named config.
    /// </summary>
    public static ModelConfigSource Resolve(string nameOrFile)
    {
        ArgumentNullException.ThrowIfNull(nameOrFile);
        if (File.Exists(nameOrFile)) return FromFile(nameOrFile);
        var named = NamedConfig(nameOrFile);
        if (named is not null) return FromJson(named, nameOrFile, nameOrFile);
        throw new InvalidInputException($"--config '{nameOrFile}': no such file, and not a named config" +
            $" (known: {string.Join(", ", NamedConfigNames())})");
    }

    /// <summary>Reads a config from a JSON file (see <see cref="Resolve"/>).</summary>
    public static ModelConfigSource FromFile(string path)
    {
        JsonNode? root;
        FileKind.RequireRegularInput(path, "a config JSON file");
        try { root = JsonNode.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new ModelFileException($"{path}: not valid JSON ({e.Message})", e); }
        if (root is not JsonObject obj) throw new ModelFileException($"{path}: expected a JSON object");
        var model = obj["model"] as JsonObject ?? obj["config"] as JsonObject ?? obj;
        return FromJson(model, null, path);
    }

    /// <summary>Parses <paramref name="model"/>; errors name <paramref name="origin"/>.</summary>
    public static ModelConfigSource FromJson(JsonObject model, string? name, string origin)
    {
        var copy = (JsonObject)model.DeepClone();
        try
        {
            using var document = JsonDocument.Parse(copy.ToJsonString());
            return new ModelConfigSource(copy, PixelLlmConfigJson.FromScenic(document.RootElement), name);
        }
        catch (ModelFileException e)
        {
            throw new ModelFileException($"{origin}: {e.Message}", e);
        }
    }

    private static JsonObject? NamedConfig(string name) => PixelLlmConfigs.Names.Contains(name) ? PixelLlmConfigs.Json(name) : null;

    /// <summary>The named configs known to this build.</summary>
    public static IReadOnlyList<string> NamedConfigNames() => PixelLlmConfigs.Names;
}
