using PixelLLM.Backends.Cpu;
using PixelLLM.Cli;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;
using PixelLLM.WeightsTools;

namespace PixelLLM.Tests.ModelFiles;

/// <summary>The CLI paths over model directories: inspect's check against config.json and verify's --weights override.</summary>
public class ModelDirectoryCliTests
{
    private static string GoldenFile(string name) => Path.Combine(Golden.Root, "pixelllm", name);

    private static string ConvertGolden(TempDirectory temp)
    {
        var dir = temp.File("model");
        ModelConverter.Convert(new ConvertRequest(SourceFormat.Scenic, [GoldenFile("tiny_t5.scenic.msgpack")], dir, DType.F32,
            GoldenFile("caption_trace.json")), new CpuBackend());
        return dir;
    }

    [Fact]
    public void InspectChecksAModelDirectoryAgainstItsConfig()
    {
        using var temp = new TempDirectory();
        var dir = ConvertGolden(temp);
        var output = new StringWriter();
        Assert.Equal(0, InspectCommand.Run(dir, json: false, depth: null, output));
        Assert.Contains("check against config.json: 0 missing, 0 unexpected, 0 mis-shaped", output.ToString());
        Assert.Contains("runs at (--precision auto): cpu f32, cuda f32 (most stored floats are F32)", output.ToString());

        // Drop one tensor: inspect lists it and fails.
        var weights = Path.Combine(dir, "model.safetensors");
        var kept = new List<KeyValuePair<string, HostTensor>>();
        using (var file = SafeTensorsFile.Open(weights))
            kept.AddRange(file.Names.Where(n => n != "t5.decoder.final_layer_norm.weight").Select(n => new KeyValuePair<string, HostTensor>(n, file.Load(n, DType.F32))));
        SafeTensorsWriter.Write(weights, kept);
        output = new StringWriter();
        Assert.Equal(1, InspectCommand.Run(dir, json: false, depth: null, output));
        Assert.Contains("missing     t5.decoder.final_layer_norm.weight", output.ToString());
    }

    [Fact]
    public void VerifyTakesWeightsFromAModelDirectoryOrACheckpointFile()
    {
        using var temp = new TempDirectory();
        var dir = ConvertGolden(temp);
        using var backend = new CpuBackend();
        foreach (var path in new[] { dir, GoldenFile("tiny_t5.scenic.msgpack") })
        {
            using var weights = WeightsOverride.Open(path);
            var report = GoldenVerifier.Verify(GoldenFile("caption_trace"), backend, weights.Weights);
            Assert.True(report.Passed, path);
        }
        // Engine weights of another model are rejected with the tensors named, not run.
        var other = temp.File("other");
        var tiny = ModelConfigSource.FromFile(GoldenFile("caption_trace.json"));
        RandomModel.Write(ModelConfigSource.FromJson(Mutate(tiny.Json), null, "test"), other, 1, DType.F32, null);
        using var wrong = WeightsOverride.Open(other);
        var e = Assert.Throws<ModelFileException>(() => GoldenVerifier.Verify(GoldenFile("caption_trace"), backend, wrong.Weights));
        Assert.Contains("point_head.layers.0.weight", e.Message);
    }

    private static System.Text.Json.Nodes.JsonObject Mutate(System.Text.Json.Nodes.JsonObject json)
    {
        var copy = (System.Text.Json.Nodes.JsonObject)json.DeepClone();
        copy["point_predictor"]!["hidden_dim"] = 8;
        return copy;
    }
}
