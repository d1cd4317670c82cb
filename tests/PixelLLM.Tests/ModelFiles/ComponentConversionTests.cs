using System.Text.Json.Nodes;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;
using PixelLLM.WeightsTools;

namespace PixelLLM.Tests.ModelFiles;

/// <summary>
/// convert --from sam | timm-eva02 | hf-t5 | assemble on small inputs written here in each source format (torch.save zips,
/// single and sharded safetensors) from the component goldens: the converted tensors, read back under the reference names,
/// reproduce the goldens exactly as the reference-named files do; damaged inputs name the tensor.
/// </summary>
public class ComponentConversionTests
{
    private static string GoldenFile(string component, string name) => Path.Combine(Golden.Root, component, name);

    private static List<KeyValuePair<string, HostTensor>> Load(string path, Func<string, bool>? keep = null)
    {
        using var file = SafeTensorsFile.Open(path);
        return [.. file.Names.Where(n => keep?.Invoke(n) ?? true).Select(n => new KeyValuePair<string, HostTensor>(n, file.Load(n, DType.F32)))];
    }

    private static ConvertResult Convert(SourceFormat from, string outDir, params string[] inputs) =>
        ModelConverter.Convert(new ConvertRequest(from, inputs, outDir, DType.F32, Tokenizer: GoldenFile("pixelllm", "spiece.model")), new CpuBackend());

    private static void AssertGoldenPasses(string casePrefix, string convertedDir, string module)
    {
        using var converted = SafeTensorsFile.Open(Path.Combine(convertedDir, "model.safetensors"));
        using var backend = new CpuBackend();
        var report = GoldenVerifier.Verify(casePrefix, backend, new ScopedWeights(new SafeTensorsWeights(converted), module));
        Assert.True(report.Passed, string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name} {c.MaxAbsError:E2} {c.Note}")));
        Assert.True(report.Checks.Count > 0);
    }

    [Fact]
    public void SamPthConvertsToTheReferenceOutputs()
    {
        using var temp = new TempDirectory();
        var pth = temp.File("sam_vit_tiny.pth");
        TorchStateDict.Write(pth, Load(GoldenFile("sam_pipeline", "cfgA.weights.safetensors")));
        var result = Convert(SourceFormat.Sam, temp.File("out"), pth);
        using (var converted = SafeTensorsFile.Open(Path.Combine(temp.File("out"), "model.safetensors")))
            Assert.All(converted.Names, n => Assert.StartsWith("sam.", n));
        Assert.Equal(result.Tensors, Load(GoldenFile("sam_pipeline", "cfgA.weights.safetensors")).Count);
        AssertGoldenPasses(GoldenFile("sam_pipeline", "cfgA"), temp.File("out"), "sam");
    }

    [Theory]
    [InlineData(".safetensors")]
    [InlineData(".pth")]
    public void TimmEva02ConvertsToTheReferenceOutputs(string extension)
    {
        using var temp = new TempDirectory();
        var input = temp.File("eva02" + extension);
        var tensors = Load(GoldenFile("eva02", "cfgB_clip_token_nonsquare.weights.safetensors"));
        if (extension == ".pth") TorchStateDict.Write(input, tensors); else SafeTensorsWriter.Write(input, tensors);
        Convert(SourceFormat.TimmEva02, temp.File("out"), input);
        AssertGoldenPasses(GoldenFile("eva02", "cfgB_clip_token_nonsquare"), temp.File("out"), "eva02");
    }

    [Fact]
    public void TimmFusedQkvIsSplit()
    {
        using var temp = new TempDirectory();
        var tensors = Load(GoldenFile("eva02", "cfgB_clip_token_nonsquare.weights.safetensors"));
        var fused = new List<KeyValuePair<string, HostTensor>>();
        var byName = tensors.ToDictionary(t => t.Key, t => t.Value);
        foreach (var (name, tensor) in tensors)
        {
            if (name.EndsWith(".attn.k_proj.weight", StringComparison.Ordinal) || name.EndsWith(".attn.v_proj.weight", StringComparison.Ordinal)) continue;
            if (name.EndsWith(".attn.q_proj.weight", StringComparison.Ordinal))
            {
                var stem = name[..^"q_proj.weight".Length];
                var rows = new[] { "q_proj", "k_proj", "v_proj" }.SelectMany(p => byName[stem + p + ".weight"].ToFloatArray()).ToArray();
                fused.Add(new(stem + "qkv.weight", HostTensor.FromArray(rows, 3 * tensor.Shape[0], tensor.Shape[1])));
                continue;
            }
            var renamed = name.EndsWith(".attn.q_proj.bias", StringComparison.Ordinal) ? name.Replace("q_proj.bias", "q_bias")
                : name.EndsWith(".attn.v_proj.bias", StringComparison.Ordinal) ? name.Replace("v_proj.bias", "v_bias") : name;
            fused.Add(new(renamed, tensor));
        }
        var input = temp.File("eva_fused.safetensors");
        SafeTensorsWriter.Write(input, fused);
        Convert(SourceFormat.TimmEva02, temp.File("out"), input);
        AssertGoldenPasses(GoldenFile("eva02", "cfgB_clip_token_nonsquare"), temp.File("out"), "eva02");
    }

    [Fact]
    public void ShardedHfT5ConvertsLikeTheSingleFile()
    {
        using var temp = new TempDirectory();
        var tensors = Load(GoldenFile("t5", "cfgA.weights.safetensors"));
        Directory.CreateDirectory(temp.File("hf"));
        int half = tensors.Count / 2;
        SafeTensorsWriter.Write(Path.Combine(temp.File("hf"), "model-00001-of-00002.safetensors"), tensors.Take(half));
        SafeTensorsWriter.Write(Path.Combine(temp.File("hf"), "model-00002-of-00002.safetensors"), tensors.Skip(half));
        var map = new JsonObject();
        for (int i = 0; i < tensors.Count; i++) map[tensors[i].Key] = i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
        File.WriteAllText(Path.Combine(temp.File("hf"), "model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString());

        Convert(SourceFormat.HfT5, temp.File("sharded"), Path.Combine(temp.File("hf"), "model.safetensors.index.json"));
        Convert(SourceFormat.HfT5, temp.File("single"), GoldenFile("t5", "cfgA.weights.safetensors"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(temp.File("single"), "model.safetensors")), File.ReadAllBytes(Path.Combine(temp.File("sharded"), "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(temp.File("single"), "spiece.model")));
        AssertGoldenPasses(GoldenFile("t5", "cfgA"), temp.File("sharded"), "t5");

        // An index naming a shard that does not hold the tensor is caught and named.
        map[tensors[0].Key] = "model-00002-of-00002.safetensors";
        File.WriteAllText(Path.Combine(temp.File("hf"), "model.safetensors.index.json"), new JsonObject { ["weight_map"] = map.DeepClone() }.ToJsonString());
        var bad = Assert.Throws<ModelFileException>(() => Convert(SourceFormat.HfT5, temp.File("bad"), Path.Combine(temp.File("hf"), "model.safetensors.index.json")));
        Assert.Contains(tensors[0].Key, bad.Message);
    }

    [Fact]
    public void DamagedInputsNameTheTensor()
    {
        using var temp = new TempDirectory();
        var t5 = Load(GoldenFile("t5", "cfgA.weights.safetensors"), n => n != "decoder.block.1.layer.2.DenseReluDense.wo.weight");
        SafeTensorsWriter.Write(temp.File("t5.safetensors"), t5);
        var e = Assert.Throws<ModelFileException>(() => Convert(SourceFormat.HfT5, temp.File("a"), temp.File("t5.safetensors")));
        Assert.Contains("'decoder.block.1.layer.2.DenseReluDense.wo.weight'", e.Message);

        var sam = Load(GoldenFile("sam_pipeline", "cfgA.weights.safetensors"), n => n != "image_encoder.blocks.1.mlp.lin2.weight");
        TorchStateDict.Write(temp.File("sam.pth"), sam);
        e = Assert.Throws<ModelFileException>(() => Convert(SourceFormat.Sam, temp.File("b"), temp.File("sam.pth")));
        Assert.Contains("image_encoder.blocks.1.mlp.lin2.weight", e.Message);

        var bytes = File.ReadAllBytes(temp.File("sam.pth"));
        File.WriteAllBytes(temp.File("truncated.pth"), bytes[..(bytes.Length * 2 / 3)]);
        e = Assert.ThrowsAny<ModelFileException>(() => Convert(SourceFormat.Sam, temp.File("c"), temp.File("truncated.pth")));
        Assert.Contains("truncated.pth", e.Message);
    }

    [Fact]
    public void AssembledFromPublicPartsMatchesTheScenicConversion()
    {
        using var temp = new TempDirectory();
        var config = GoldenFile("pixelllm", "caption_trace.json");
        using var backend = new CpuBackend();
        var scenic = GoldenFile("pixelllm", "tiny_t5.scenic.msgpack");
        ModelConverter.Convert(new ConvertRequest(SourceFormat.Scenic, [scenic], temp.File("scenic"), DType.F32, config), backend);
        // Public-format backbones cut from the converted model: the engine names minus their module prefix.
        using (var model = ModelDirectory.Open(temp.File("scenic")))
        {
            List<KeyValuePair<string, HostTensor>> Part(string prefix) => [.. model.StoredWeights.Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
                .Select(n => new KeyValuePair<string, HostTensor>(n[prefix.Length..], model.StoredWeights.Get(n)))];
            TorchStateDict.Write(temp.File("sam.pth"), Part("sam."));
            SafeTensorsWriter.Write(temp.File("eva02.safetensors"), Part("eva02."));
            SafeTensorsWriter.Write(temp.File("t5.safetensors"), Part("t5."));
        }
        var inputs = new[] { temp.File("t5.safetensors"), temp.File("sam.pth"), temp.File("eva02.safetensors") };
        ModelConverter.Convert(new ConvertRequest(SourceFormat.Assemble, [.. inputs, scenic], temp.File("assembled"), DType.F32, config,
            GoldenFile("pixelllm", "spiece.model")), backend);
        Assert.Equal(File.ReadAllBytes(Path.Combine(temp.File("scenic"), "model.safetensors")), File.ReadAllBytes(Path.Combine(temp.File("assembled"), "model.safetensors")));

        // Without the scenic checkpoint the trained parts are random, and the directory is still complete.
        var result = ModelConverter.Convert(new ConvertRequest(SourceFormat.Assemble, inputs, temp.File("random"), DType.BF16, config,
            GoldenFile("pixelllm", "spiece.model"), Seed: 3), backend);
        Assert.Contains(result.Notes, n => n.Contains("from random", StringComparison.Ordinal));
        using var random = ModelDirectory.Open(temp.File("random"));
        Assert.True(random.TensorReport.Passed);
        Assert.Equal(DType.BF16, random.StoredWeights.Describe("prompt_adapter.output_tokens.weight").DType);
    }
}

/// <summary>Writes a torch.save zip of a flat state dict (one float32 storage per tensor), as torch.save(model.state_dict()) does.</summary>
internal static class TorchStateDict
{
    public static void Write(string path, IReadOnlyList<KeyValuePair<string, HostTensor>> tensors)
    {
        var pickle = new PickleBuilder().Proto().EmptyDict().Mark();
        var storages = new Dictionary<string, byte[]>();
        for (int i = 0; i < tensors.Count; i++)
        {
            var (name, tensor) = tensors[i];
            var values = tensor.ToFloatArray();
            var size = tensor.Shape.ToArray().Select(d => (long)d).ToArray();
            var stride = tensor.Shape.Strides();
            pickle.Str(name).Tensor("FloatStorage", i.ToString(System.Globalization.CultureInfo.InvariantCulture), values.Length, 0, size, stride);
            var bytes = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            storages[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = bytes;
        }
        TorchZip.Write(path, pickle.SetItems().Stop().ToArray(), storages);
    }
}
