using System.Text.Json;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models.Verification;

/// <summary>
/// One reference case: <c>&lt;case&gt;.json</c> (component, config, tolerances), <c>&lt;case&gt;.weights.safetensors</c>
/// (the reference module's parameters under its own names) and <c>&lt;case&gt;.io.safetensors</c> (in.*, mid.*, out.*, aux.*).
/// </summary>
public sealed class GoldenCase : IDisposable
{
    private readonly SafeTensorsFile io;
    private readonly SafeTensorsFile? weightsFile;

    private GoldenCase(string prefix, JsonDocument json, SafeTensorsFile io, IWeightSource weights, SafeTensorsFile? weightsFile)
    {
        Prefix = prefix; Json = json; this.io = io; Weights = weights; this.weightsFile = weightsFile;
    }

    public string Prefix { get; }
    public JsonDocument Json { get; }
    public JsonElement Config => Json.RootElement.GetProperty("config");
    public string Component => Json.RootElement.GetProperty("component").GetString() ?? "";
    public string Name => Path.GetFileName(Prefix);
    public IWeightSource Weights { get; }
    public IWeightSource Io => new SafeTensorsWeights(io);
    public IEnumerable<string> IoNames => io.Names;

    /// <summary>Opens the case at <paramref name="prefix"/>; <paramref name="weights"/> replaces the case's own weights when given.</summary>
    public static GoldenCase Open(string prefix, IWeightSource? weights = null)
    {
        prefix = StripSuffix(prefix);
        var jsonPath = prefix + ".json";
        if (!File.Exists(jsonPath)) throw new InvalidInputException($"{jsonPath}: case file not found (expected <case>.json, .weights.safetensors, .io.safetensors)");
        JsonDocument json;
        FileKind.RequireRegularInput(jsonPath, "a case file");
        try { json = JsonDocument.Parse(File.ReadAllBytes(jsonPath)); }
        catch (JsonException e) { throw new ModelFileException($"{jsonPath}: not valid JSON ({e.Message})"); }
        if (!json.RootElement.TryGetProperty("component", out _)) throw new ModelFileException($"{jsonPath}: missing field 'component'");
        var io = SafeTensorsFile.Open(prefix + ".io.safetensors");
        SafeTensorsFile? own = null;
        if (weights is null)
        {
            own = SafeTensorsFile.Open(WeightsPath(prefix, json));
            weights = new SafeTensorsWeights(own);
        }
        return new GoldenCase(prefix, json, io, new Float32Weights(weights), own);
    }

    public HostTensor Input(string name) => io.Get(name);
    public bool Has(string name) => io.Contains(name);

    private static string WeightsPath(string prefix, JsonDocument json)
    {
        // A case may name a weights file shared by several cases (the end-to-end goldens' "model_weights").
        foreach (var key in new[] { "weights_file", "model_weights" })
            if (json.RootElement.TryGetProperty(key, out var wf) && wf.ValueKind == JsonValueKind.String)
                return Path.Combine(Path.GetDirectoryName(prefix) ?? ".", wf.GetString()!);
        return prefix + ".weights.safetensors";
    }

    private static string StripSuffix(string p)
    {
        foreach (var s in new[] { ".json", ".io.safetensors", ".weights.safetensors" })
            if (p.EndsWith(s, StringComparison.Ordinal)) return p[..^s.Length];
        return p;
    }

    public void Dispose()
    {
        io.Dispose();
        weightsFile?.Dispose();
        Json.Dispose();
    }
}

/// <summary>A safetensors file as a weight source.</summary>
public sealed class SafeTensorsWeights(SafeTensorsFile file) : IWeightSource
{
    public IEnumerable<string> Names => file.Names;
    public bool Contains(string name) => file.Contains(name);
    public HostTensor Get(string name) => file.Get(name);
}
