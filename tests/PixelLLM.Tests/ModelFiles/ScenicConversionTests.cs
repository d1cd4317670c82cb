using PixelLLM.Backends.Cpu;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;
using PixelLLM.Tests.Support;
using PixelLLM.WeightsTools;

namespace PixelLLM.Tests.ModelFiles;

/// <summary>
/// convert --from scenic on the golden checkpoint (scenic's TrainState msgpack and the scenic-named safetensors): the model
/// directory reproduces every end-to-end golden through `verify --weights`, stores the tables the reference resizes, and
/// damaged inputs fail with the tensor's name.
/// </summary>
public class ScenicConversionTests
{
    private static string GoldenFile(string name) => Path.Combine(Golden.Root, "pixelllm", name);

    private static string Convert(TempDirectory temp, string input, string outName = "model", DType? dtype = null)
    {
        using var backend = new CpuBackend();
        var dir = temp.File(outName);
        ModelConverter.Convert(new ConvertRequest(SourceFormat.Scenic, [input], dir, dtype ?? DType.F32, GoldenFile("caption_trace.json")), backend);
        return dir;
    }

    [Fact]
    public void ConvertedMsgPackPassesEveryEndToEndGolden()
    {
        using var temp = new TempDirectory();
        var dir = Convert(temp, GoldenFile("tiny_t5.scenic.msgpack"));
        using var model = ModelDirectory.Open(dir);
        Assert.True(model.TensorReport.Passed);
        using var backend = new CpuBackend();
        foreach (var caseName in ScenicGolden.Cases)
        {
            var report = GoldenVerifier.Verify(GoldenFile(caseName), backend, model.Weights);
            Assert.True(report.Passed, $"{caseName}: " + string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name} {c.MaxAbsError:E2} {c.Note}")));
            Assert.Contains(report.Checks, c => c.Name == "out.point_coords" || c.Name.EndsWith(".point_coords", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// The other golden checkpoints through convert and `verify --weights DIR`: each directory carries the tokenizer its
    /// language model reads, found beside the checkpoint (a GIT model's BERT vocab.txt: written as SentencePiece before, its
    /// directory could not load), and passes its cases — dense captioning's too (its runner took only scenic names before).
    /// </summary>
    [Theory]
    [InlineData("pixelllm_git", "tiny_git", "caption_trace,loca_caption", TokenizerKind.WordPiece)]
    [InlineData("pixelllm_refseg", "tiny_t5_refseg", "referring_segmentation", TokenizerKind.SentencePiece)]
    [InlineData("pixelllm_densecap", "tiny_densecap", "densecap", TokenizerKind.SentencePiece)]
    public void ConvertedCheckpointsCarryTheirTokenizerAndPassTheirGoldens(string set, string checkpoint, string cases, TokenizerKind tokenizer)
    {
        using var temp = new TempDirectory();
        using var backend = new CpuBackend(accumulation: PixelLLM.Backends.Cpu.CpuAccumulation.Float64); // verify's default: densecap's margins need it
        string File(string name) => Path.Combine(Golden.Root, set, name);
        var names = cases.Split(',');
        var dir = temp.File(set);
        ModelConverter.Convert(new ConvertRequest(SourceFormat.Scenic, [File(checkpoint + ".scenic.msgpack")], dir, DType.F32, File(names[0] + ".json")), backend);
        var tokenizerFile = ModelDirectoryManifest.TokenizerFile(tokenizer);
        Assert.Equal(System.IO.File.ReadAllBytes(File(tokenizerFile)), System.IO.File.ReadAllBytes(Path.Combine(dir, tokenizerFile)));
        using var model = ModelDirectory.Open(dir);
        Assert.Equal(tokenizer, model.Manifest.Tokenizer);
        foreach (var caseName in names)
        {
            var report = GoldenVerifier.Verify(File(caseName), backend, model.Weights);
            Assert.True(report.Passed, $"{caseName}: " + string.Join("; ", report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name} {c.MaxAbsError:E2} {c.Note}")));
        }
    }

    [Fact]
    public void MsgPackAndSafeTensorsGiveTheSameDirectoryAndTheReferenceTables()
    {
        using var temp = new TempDirectory();
        var fromMsgPack = Convert(temp, GoldenFile("tiny_t5.scenic.msgpack"), "a");
        var fromSafeTensors = Convert(temp, GoldenFile("tiny_t5.weights.safetensors"), "b");
        Assert.Equal(File.ReadAllBytes(Path.Combine(fromMsgPack, "model.safetensors")), File.ReadAllBytes(Path.Combine(fromSafeTensors, "model.safetensors")));

        using var model = ModelDirectory.Open(fromMsgPack);
        using var aux = SafeTensorsFile.Open(GoldenFile("tiny_t5.aux.safetensors"));
        AssertClose(aux.Get("aux.git_pos_embed_resized"), model.Weights.Get("eva02.pos_embed"));
        AssertClose(aux.Get("aux.sam_pos_embed_resized"), model.Weights.Get("sam.image_encoder.pos_embed"));
        var relPos = aux.Names.Where(n => n.StartsWith("aux.sam_blocks.", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(relPos);
        foreach (var name in relPos)
        {
            // aux.sam_blocks.<i>.rel_pos_h_resized → sam.image_encoder.blocks.<i>.attn.rel_pos_h
            var parts = name.Split('.');
            AssertClose(aux.Get(name), model.Weights.Get($"sam.image_encoder.blocks.{parts[2]}.attn.{parts[3].Replace("_resized", "")}"));
        }
        // LoRA is merged: the engine q/v weights are the reference's effective kernels (in, out), transposed.
        var merged = aux.Get("aux.lora_merged.textual/t5_module/decoder/layers_1/encoder_decoder_attention/value");
        AssertClose(PixelLLM.Models.Checkpoints.LayoutTransforms.Transpose2d(merged), model.Weights.Get("t5.decoder.block.1.layer.1.EncDecAttention.v.weight"));
    }

    [Fact]
    public void Bf16ConversionStoresHalfTheBytes()
    {
        using var temp = new TempDirectory();
        var f32 = Convert(temp, GoldenFile("tiny_t5.scenic.msgpack"), "f32");
        var bf16 = Convert(temp, GoldenFile("tiny_t5.scenic.msgpack"), "bf16", DType.BF16);
        using var a = ModelDirectory.Open(f32);
        using var b = ModelDirectory.Open(bf16);
        Assert.Equal(DType.BF16, b.StoredWeights.Describe("t5.shared.weight").DType);
        var x = a.Weights.Get("t5.shared.weight").ToFloatArray();
        var y = b.Weights.Get("t5.shared.weight").ToFloatArray();
        for (int i = 0; i < x.Length; i++) Assert.Equal(BFloat16.ToSingle(BFloat16.FromSingle(x[i])), y[i]);
    }

    [Fact]
    public void TruncatedCheckpointFailsWithOneClearError()
    {
        using var temp = new TempDirectory();
        var bytes = File.ReadAllBytes(GoldenFile("tiny_t5.scenic.msgpack"));
        var truncated = temp.File("checkpoint_1000");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var e = Assert.ThrowsAny<ModelFileException>(() => Convert(temp, truncated));
        Assert.Contains("checkpoint_1000", e.Message);
        Assert.False(Directory.Exists(temp.File("model")));
    }

    [Fact]
    public void MislabeledTensorIsNamed()
    {
        using var temp = new TempDirectory();
        var tensors = new List<KeyValuePair<string, HostTensor>>();
        using (var scenic = SafeTensorsFile.Open(GoldenFile("tiny_t5.weights.safetensors")))
            foreach (var name in scenic.Names)
                tensors.Add(new(name == "point_predictor/mlp/layers.0/kernel" ? "point_predictor/mlp/layer0/kernel" : name, scenic.Load(name, DType.F32)));
        var input = temp.File("mislabeled.safetensors");
        SafeTensorsWriter.Write(input, tensors);
        var e = Assert.Throws<ModelFileException>(() => Convert(temp, input));
        Assert.Contains("point_predictor/mlp/layers.0/kernel", e.Message);
        Assert.Contains("mislabeled.safetensors", e.Message);
    }

    private static void AssertClose(HostTensor expected, HostTensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToFloatArray();
        var a = actual.ToFloatArray();
        for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - a[i]) <= 1e-5 + 1e-5 * Math.Abs(e[i]), $"[{i}] {a[i]} vs {e[i]}");
    }
}
