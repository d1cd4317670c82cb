using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Runtime;

namespace PixelLLM.Models.ModelFiles;

/// <summary>A parsed <c>config.json</c> of a model directory: the manifest plus the files it names.</summary>
public sealed record ModelConfigFile(ModelDirectoryManifest Manifest, IReadOnlyList<string> WeightFiles, string TokenizerFile)
{
    /// <summary>The config file's name inside a model directory.</summary>
    public const string FileName = "config.json";

    /// <summary>Reads and checks <paramref name="path"/>; every problem is a <see cref="ModelFileException"/> naming the field.</summary>
    public static ModelConfigFile Read(string path)
    {
        JsonNode? root;
        FileKind.RequireRegularInput(path, "a config.json file");
        try { root = JsonNode.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new ModelFileException($"{path}: not valid JSON ({e.Message})", e); }
        catch (FileNotFoundException) { throw new ModelFileException($"{path}: not found (a model directory needs {FileName})"); }
        if (root is not JsonObject obj) throw new ModelFileException($"{path}: expected a JSON object");

        var format = String(obj, "format", path);
        if (format != ModelDirectoryManifest.Format)
            throw new ModelFileException($"{path}: field 'format' is '{format}', expected '{ModelDirectoryManifest.Format}'");
        string? name = obj["name"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            _ => throw new ModelFileException($"{path}: field 'name' must be a string or null"),
        };
        if (obj["model"] is not JsonObject model) throw new ModelFileException($"{path}: field 'model' must be an object (the scenic-style model config)");
        var dtypeName = String(obj, "dtype", path);
        var dtype = ModelDirectoryManifest.ParseDType(dtypeName)
            ?? throw new ModelFileException($"{path}: field 'dtype' is '{dtypeName}', expected 'f32', 'bf16' or 'f16'");
        if (obj["weights"] is not JsonArray weights || weights.Count == 0)
            throw new ModelFileException($"{path}: field 'weights' must be a non-empty array of .safetensors file names");
        var files = weights.Select((w, i) => w is JsonValue v && v.TryGetValue<string>(out var s) && IsPlainFileName(s) ? s
            : throw new ModelFileException($"{path}: field 'weights[{i}]' must be a file name inside the directory")).ToList();
        if (obj["tokenizer"] is not JsonObject tokenizer) throw new ModelFileException($"{path}: field 'tokenizer' must be an object {{\"kind\", \"file\"}}");
        var kindName = String(tokenizer, "kind", path, "tokenizer.");
        var kind = kindName switch
        {
            "sentencepiece" => TokenizerKind.SentencePiece,
            "wordpiece" => TokenizerKind.WordPiece,
            _ => throw new ModelFileException($"{path}: field 'tokenizer.kind' is '{kindName}', expected 'sentencepiece' or 'wordpiece'"),
        };
        var tokenizerFile = String(tokenizer, "file", path, "tokenizer.");
        if (!IsPlainFileName(tokenizerFile)) throw new ModelFileException($"{path}: field 'tokenizer.file' must be a file name inside the directory");
        return new ModelConfigFile(new ModelDirectoryManifest((JsonObject)model.DeepClone(), dtype, kind, name), files, tokenizerFile);
    }

    /// <summary>The config.json text for <paramref name="manifest"/> with one weights file.</summary>
    public static string Serialize(ModelDirectoryManifest manifest, IReadOnlyList<string> weightFiles)
    {
        var root = new JsonObject
        {
            ["format"] = ModelDirectoryManifest.Format,
            ["name"] = manifest.Name,
            ["model"] = manifest.Model.DeepClone(),
            ["dtype"] = ModelDirectoryManifest.DTypeName(manifest.StorageType),
            ["weights"] = new JsonArray([.. weightFiles.Select(f => (JsonNode)JsonValue.Create(f))]),
            ["tokenizer"] = new JsonObject
            {
                ["kind"] = manifest.Tokenizer == TokenizerKind.SentencePiece ? "sentencepiece" : "wordpiece",
                ["file"] = manifest.TokenizerFileName,
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string String(JsonObject obj, string field, string path, string prefix = "") =>
        obj[field] is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new ModelFileException($"{path}: field '{prefix}{field}' must be a string");

    private static bool IsPlainFileName(string name) =>
        name.Length > 0 && name == Path.GetFileName(name) && name != "." && name != "..";
}
