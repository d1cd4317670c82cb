using System.Text.Json;
using PixelLLM.Models;
using PixelLLM.Models.Checkpoints;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;

namespace PixelLLM;

/// <summary>What a loaded model directory provides: config, weights under engine names (f32 on read), tokenizer.</summary>
internal sealed record LoadedModelFiles(string Path, string? Name, PixelLlmConfig Config, IWeightSource Weights, ITextTokenizer Tokenizer,
    IReadOnlyList<IDisposable> OpenFiles);

/// <summary>
/// THE place a model directory is opened (config.json in the "pixelllm-native/1" format, see the README). Interim reader until
/// the Models-level ModelDirectory lands: the listed safetensors may hold engine names (a converted model) or scenic names
/// ('/'-joined Flax paths, LoRA unmerged — e.g. the golden tiny_t5 weights), which go through <see cref="ScenicWeights"/>.
/// </summary>
internal static class ModelLoading
{
    public const string ConfigFile = "config.json";

    public static LoadedModelFiles Open(string directory)
    {
        if (!Directory.Exists(directory))
            throw new ModelFileException($"{directory}: model directory not found (expected a folder with {ConfigFile}, weights and a tokenizer)");
        var configPath = System.IO.Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath)) throw new ModelFileException($"{configPath}: missing (not a PixelLLM model directory)");
        using var json = Parse(configPath);
        var root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new ModelFileException($"{configPath}: expected a JSON object");
        var format = String(root, "format", configPath);
        if (format != "pixelllm-native/1") throw new ModelFileException($"{configPath}: \"format\" is '{format}', expected 'pixelllm-native/1'");
        if (!root.TryGetProperty("model", out var modelJson) || modelJson.ValueKind != JsonValueKind.Object)
            throw new ModelFileException($"{configPath}: \"model\" must be the scenic-style model config object");
        PixelLlmConfig config;
        try { config = PixelLlmConfigJson.FromScenic(modelJson); }
        catch (ModelFileException e) { throw new ModelFileException($"{configPath}: \"model\": {e.Message}", e); }
        string? name = root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;

        var tokenizer = Tokenizer(directory, root, configPath);
        var files = new List<IDisposable>();
        try
        {
            var sources = WeightFiles(directory, root, configPath).Select(path =>
            {
                var file = SafeTensorsFile.Open(path);
                files.Add(file);
                return (IWeightSource)new Models.Verification.SafeTensorsWeights(file);
            }).ToList();
            var merged = new Float32Weights(sources.Count == 1 ? sources[0] : new MergedWeights(sources, directory));
            return new LoadedModelFiles(directory, name, config, EngineNamed(merged, config), tokenizer, files);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    /// <summary>Scenic-named tensors are mapped (and validated against the config); engine-named ones are used as they are.</summary>
    private static IWeightSource EngineNamed(IWeightSource source, PixelLlmConfig config)
    {
        if (!source.Names.Any(n => n.Contains('/'))) return source;
        var scenic = new ScenicWeights(source, new ScenicWeightsOptions(config.LoraScale, config.LoraRank > 0 ? config.LoraRank : null));
        scenic.Validate(ScenicParameterShapes.For(config));
        return scenic;
    }

    private static IEnumerable<string> WeightFiles(string directory, JsonElement root, string configPath)
    {
        if (!root.TryGetProperty("weights", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            throw new ModelFileException($"{configPath}: \"weights\" must be a non-empty list of safetensors file names");
        var paths = new List<string>();
        foreach (var item in list.EnumerateArray())
        {
            var file = item.ValueKind == JsonValueKind.String ? item.GetString()! : throw new ModelFileException($"{configPath}: \"weights\" entries must be strings");
            var path = Inside(directory, file, configPath, "weights");
            if (!File.Exists(path)) throw new ModelFileException($"{path}: weights file listed in {ConfigFile} is missing");
            paths.Add(path);
        }
        return paths;
    }

    private static ITextTokenizer Tokenizer(string directory, JsonElement root, string configPath)
    {
        if (!root.TryGetProperty("tokenizer", out var t) || t.ValueKind != JsonValueKind.Object)
            throw new ModelFileException($"{configPath}: \"tokenizer\" must be {{\"kind\": \"sentencepiece\"|\"wordpiece\", \"file\": ...}}");
        var kind = String(t, "kind", configPath);
        var path = Inside(directory, String(t, "file", configPath), configPath, "tokenizer.file");
        if (!File.Exists(path)) throw new ModelFileException($"{path}: tokenizer file listed in {ConfigFile} is missing");
        return kind switch
        {
            "sentencepiece" => T5SentencePieceTokenizer.Load(path),
            "wordpiece" => BertWordPieceTokenizer.Load(path),
            _ => throw new ModelFileException($"{configPath}: \"tokenizer.kind\" is '{kind}', expected sentencepiece or wordpiece"),
        };
    }

    /// <summary>Files named by config.json must stay inside the model directory.</summary>
    private static string Inside(string directory, string file, string configPath, string field)
    {
        var full = System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, file));
        var dir = System.IO.Path.GetFullPath(directory).TrimEnd(System.IO.Path.DirectorySeparatorChar) + System.IO.Path.DirectorySeparatorChar;
        if (!full.StartsWith(dir, StringComparison.Ordinal))
            throw new ModelFileException($"{configPath}: \"{field}\" '{file}' points outside the model directory");
        return full;
    }

    private static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new ModelFileException($"{path}: not valid JSON ({e.Message})", e); }
    }

    private static string String(JsonElement obj, string key, string configPath) =>
        obj.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
            : throw new ModelFileException($"{configPath}: \"{key}\" must be a string");

    /// <summary>Several weight files as one source; a name in two files is an error.</summary>
    private sealed class MergedWeights : IWeightSource
    {
        private readonly Dictionary<string, IWeightSource> owner = new(StringComparer.Ordinal);

        public MergedWeights(IReadOnlyList<IWeightSource> sources, string directory)
        {
            foreach (var source in sources)
                foreach (var name in source.Names)
                    if (!owner.TryAdd(name, source)) throw new ModelFileException($"{directory}: tensor '{name}' appears in two weight files");
        }

        public IEnumerable<string> Names => owner.Keys;
        public bool Contains(string name) => owner.ContainsKey(name);
        public HostTensor Get(string name) => owner.TryGetValue(name, out var s) ? s.Get(name) : throw new ModelFileException($"model weights: missing tensor '{name}'");
    }
}
