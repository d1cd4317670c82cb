using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>
/// Model directories in the engine format (as <see cref="TinyModel"/> builds them) from the refseg and densecap golden tiny
/// models: config.json whose "model" is the case's "config", the scenic-named weights and spiece.model beside it.
/// </summary>
public abstract class TaskModel : IDisposable
{
    protected TaskModel(string component, string caseName, string weights)
    {
        GoldenDir = Path.Combine(Golden.Root, component);
        CaseName = caseName;
        Directory = Path.Combine(Path.GetTempPath(), $"pixelllm-{component}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(Directory);
        using var golden = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(GoldenDir, caseName + ".json")));
        var config = new JsonObject
        {
            ["format"] = "pixelllm-native/1",
            ["name"] = "golden-" + weights,
            ["model"] = JsonNode.Parse(golden.RootElement.GetProperty("config").GetRawText()),
            ["dtype"] = "f32",
            ["weights"] = new JsonArray("model.safetensors"),
            ["tokenizer"] = new JsonObject { ["kind"] = "sentencepiece", ["file"] = "spiece.model" },
        };
        File.WriteAllText(Path.Combine(Directory, "config.json"), config.ToJsonString());
        File.Copy(Path.Combine(GoldenDir, weights + ".weights.safetensors"), Path.Combine(Directory, "model.safetensors"));
        File.Copy(Path.Combine(GoldenDir, "spiece.model"), Path.Combine(Directory, "spiece.model"));
        Model = PixelLlmModel.Load(Directory);
    }

    public string GoldenDir { get; }
    public string CaseName { get; }
    public string Directory { get; }
    public PixelLlmModel Model { get; }
    public string ImagePath => Path.Combine(GoldenDir, CaseName + ".png");

    public void Dispose()
    {
        Model.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

/// <summary>The pixelllm_refseg tiny T5 model with its mask branch.</summary>
public sealed class RefsegModel() : TaskModel("pixelllm_refseg", "referring_segmentation", "tiny_t5_refseg");

/// <summary>The pixelllm_densecap tiny model with its box decoder (no point head).</summary>
public sealed class DensecapModel() : TaskModel("pixelllm_densecap", "densecap", "tiny_densecap");
