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
        Root = new CaseJson(json.RootElement, JsonPath, "");
        Component = Root.Text("component");
    }

    public string Prefix { get; }
    public JsonDocument Json { get; }

    /// <summary>The case JSON's top level, read through typed accessors that name this file in their errors.</summary>
    public CaseJson Root { get; }

    /// <summary>The "config" object (typed accessors: a malformed field is a <see cref="ModelFileException"/> naming it).</summary>
    public CaseJson Fields => Root.Object("config");

    public JsonElement Config => Fields.Element;
    public string Component { get; }
    public string Name => Path.GetFileName(Prefix);
    public string JsonPath => Prefix + ".json";
    public string IoPath => Prefix + ".io.safetensors";
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
        SafeTensorsFile? io = null, own = null;
        try
        {
            // The top level and "component" are checked before any tensor file is opened: a malformed case names its JSON first.
            _ = new CaseJson(json.RootElement, jsonPath, "").Text("component");
            io = SafeTensorsFile.Open(prefix + ".io.safetensors");
            if (weights is null)
            {
                own = SafeTensorsFile.Open(WeightsPath(prefix, json));
                weights = new SafeTensorsWeights(own);
            }
            return new GoldenCase(prefix, json, io, new Float32Weights(weights), own);
        }
        catch
        {
            own?.Dispose();
            io?.Dispose();
            json.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The tensor names the case JSON lists (its "io" object, or "tensors" in the end-to-end cases); empty when it lists none.
    /// A listed out.* or mid.* tensor that the io file lacks is compared as missing, not skipped.
    /// </summary>
    public IReadOnlyList<string> ListedNames
    {
        get
        {
            foreach (var key in new[] { "io", "tensors" })
                if (Root.Has(key)) return Root.Object(key).Element.EnumerateObject().Select(p => p.Name).ToList();
            return [];
        }
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
