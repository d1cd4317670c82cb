using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>
/// A model directory in the engine format built from the golden tiny T5 model: config.json whose "model" is the golden case's
/// "config", the scenic-named weights and spiece.model copied beside it. One loaded <see cref="PixelLlmModel"/> per test class.
/// </summary>
public sealed class TinyModel : IDisposable
{
    public TinyModel()
    {
        Directory = Create(Path.Combine(Path.GetTempPath(), $"pixelllm-api-{Environment.ProcessId}-{Guid.NewGuid():N}"));
        Model = PixelLlmModel.Load(Directory);
    }

    public string Directory { get; }
    public PixelLlmModel Model { get; }

    public static string GoldenDir => Path.Combine(Golden.Root, ScenicGolden.Component);

    public static string GitGoldenDir => Path.Combine(Golden.Root, "pixelllm_git");

    /// <summary>Writes the model directory at <paramref name="dir"/> and returns it (the GIT/BERT tiny model with <paramref name="git"/>).</summary>
    public static string Create(string dir, bool git = false)
    {
        System.IO.Directory.CreateDirectory(dir);
        var source = git ? GitGoldenDir : GoldenDir;
        var (weights, tokenizer, kind) = git ? ("tiny_git.weights.safetensors", "vocab.txt", "wordpiece") : ("tiny_t5.weights.safetensors", "spiece.model", "sentencepiece");
        using var golden = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(source, "caption_trace.json")));
        var config = new JsonObject
        {
            ["format"] = "pixelllm-native/1",
            ["name"] = git ? "golden-tiny-git" : "golden-tiny-t5",
            ["model"] = JsonNode.Parse(golden.RootElement.GetProperty("config").GetRawText()),
            ["dtype"] = "f32",
            ["weights"] = new JsonArray("model.safetensors"),
            ["tokenizer"] = new JsonObject { ["kind"] = kind, ["file"] = tokenizer },
        };
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        File.Copy(Path.Combine(source, weights), Path.Combine(dir, "model.safetensors"), overwrite: true);
        File.Copy(Path.Combine(source, tokenizer), Path.Combine(dir, tokenizer), overwrite: true);
        return dir;
    }

    public static PixelImage Image(string caseName) => PixelImage.Load(Path.Combine(GoldenDir, caseName + ".png"));

    public void Dispose()
    {
        Model.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
