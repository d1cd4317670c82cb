using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Models;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.Tests.Support;

/// <summary>
/// Locates the golden reference tensors (<c>shared/golden</c>). Tests that need them fail loudly when they are
/// missing rather than passing without checking anything.
/// </summary>
internal static class Golden
{
    public const string EnvironmentVariable = "PIXELLLM_GOLDEN";

    private static readonly Lazy<string> root = new(FindRoot);

    /// <summary>The golden directory: <c>$PIXELLLM_GOLDEN</c> if set, else the first <c>shared/golden</c> found walking up.</summary>
    public static string Root => root.Value;

    /// <summary>Opens <c>&lt;Root&gt;/&lt;component&gt;/&lt;file&gt;</c>, e.g. <c>Golden.Open("t5", "cfgA.io.safetensors")</c>.</summary>
    public static SafeTensorsFile Open(string component, string file)
    {
        var path = Path.Combine(Root, component, file);
        if (!File.Exists(path))
            throw new FileNotFoundException($"golden file {component}/{file} not found under {Root}", path);
        return SafeTensorsFile.Open(path);
    }

    /// <summary>The "config" object of <c>&lt;Root&gt;/&lt;component&gt;/&lt;caseName&gt;.json</c>, a fresh copy to edit.</summary>
    public static JsonObject CaseConfig(string component, string caseName) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Root, component, caseName + ".json")))!["config"]!.AsObject();

    /// <summary>An (edited) case config through the model's own config reader.</summary>
    public static PixelLlmConfig ParseConfig(JsonObject config)
    {
        using var doc = JsonDocument.Parse(config.ToJsonString());
        return PixelLlmConfigJson.FromScenic(doc.RootElement);
    }

    private static string FindRoot()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Directory.Exists(fromEnvironment)
                ? Path.GetFullPath(fromEnvironment)
                : throw new DirectoryNotFoundException($"{EnvironmentVariable}={fromEnvironment} is not a directory");
        }
        var searched = new List<string>();
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            // The repository may sit beside shared/ (a checkout of its own) or have it inside (a worktree with a link).
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "golden"), Path.Combine(dir.FullName, "..", "shared", "golden") })
            {
                if (Directory.Exists(candidate)) return Path.GetFullPath(candidate);
                searched.Add(Path.GetFullPath(candidate));
            }
        }
        throw new DirectoryNotFoundException(
            $"golden tensors not found: set {EnvironmentVariable} or place shared/golden above {AppContext.BaseDirectory}. " +
            $"Searched: {string.Join(", ", searched.Distinct())}");
    }
}
