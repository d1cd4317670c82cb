using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;
using PixelLLM.WeightsTools;

namespace PixelLLM.Tests.Api;

/// <summary>
/// <see cref="PixelLlmOptions.Precision"/>: a directory stored in bf16 runs its Linear weights in bf16 on the CPU (read from
/// the file, never widened), computes what its f32 run computes, and an f32 directory stays f32 unless asked.
/// </summary>
public class PrecisionApiTests
{
    private static string RandomModelDirectory(TempDirectory temp, string goldenCase, DType dtype, int seed = 5)
    {
        var dir = temp.File($"model-{dtype}");
        RandomModel.Write(ModelConfigSource.Resolve(Path.Combine(Golden.Root, goldenCase)), dir, seed, dtype, null);
        return dir;
    }

    private static PixelImage Image(string goldenCase) => PixelImage.Load(Path.ChangeExtension(Path.Combine(Golden.Root, goldenCase), ".png"));

    [Theory]
    [InlineData("pixelllm_refseg/referring_segmentation.json", "t5.decoder.block.0.layer.2.DenseReluDense.wo.weight", "t5.encoder.block.0.layer.0.SelfAttention.q.weight")]
    [InlineData("pixelllm_git/loca_caption.json", "git.layers.0.intermediate.weight", "git.layers.1.attention.query.weight")]
    public void ABf16DirectoryReadsItsLinearWeightsFromTheFileAndComputesWhatItsF32RunDoes(string goldenCase, string linearWeight, string projection)
    {
        using var temp = new TempDirectory();
        var dir = RandomModelDirectory(temp, goldenCase, DType.BF16);
        var image = Image(goldenCase);
        string[] texts = ["red", "dog"];

        var inspected = new StringWriter();
        Cli.InspectCommand.Run(dir, json: false, depth: null, inspected);
        Assert.Contains("runs at (--precision auto): cpu bf16, cuda bf16 (most stored floats are BF16)", inspected.ToString());

        using var bf16 = PixelLlmModel.Load(dir);
        Assert.Equal(ComputePrecision.BFloat16, bf16.Precision);
        var fromBf16 = bf16.Refer(image, texts);
        var captions = bf16.Caption(image, [new Box(3, 4, 60, 50)]);

        var weight = bf16.Weights.Get(linearWeight);
        Assert.Equal(DType.F32, weight.DType);
        Assert.Equal(DType.BF16, weight.LinearForm!.DType);
        Assert.False(weight.IsMaterialised);                  // the request read the stored bf16 bytes only
        Assert.False(bf16.Weights.Get(projection).IsMaterialised);   // also where projections are stacked into one GEMM
        Assert.False(bf16.Weights.Get("sam.image_encoder.blocks.0.mlp.lin1.weight").IsMaterialised);

        using var f32 = PixelLlmModel.Load(dir, new PixelLlmOptions { Precision = ComputePrecision.Float32 });
        Assert.Equal(ComputePrecision.Float32, f32.Precision);
        Assert.Null(f32.Weights.Get(linearWeight).LinearForm);
        var fromF32 = f32.Refer(image, texts);
        // The same bf16 values either way (widening is exact): only the order of the f32 sums differs.
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(fromF32[i].Tokens.Select(t => t.Id), fromBf16[i].Tokens.Select(t => t.Id));
            var (a, b) = (fromF32[i].Box!.Value, fromBf16[i].Box!.Value);
            foreach (var (x, y) in new[] { (a.X0, b.X0), (a.Y0, b.Y0), (a.X1, b.X1), (a.Y1, b.Y1) }) Assert.Equal(x, y, 1e-2);
        }
        Assert.Single(captions);
    }

    [Fact]
    public void Bf16BoxCaptionsAreEachTheirOwnRequestBitForBit()
    {
        using var temp = new TempDirectory();
        using var model = PixelLlmModel.Load(RandomModelDirectory(temp, "pixelllm_git/loca_caption.json", DType.BF16));
        var image = Image("pixelllm_git/loca_caption.json");
        Box[] boxes = [new(3, 4, 60, 50), new(50, 10, 110, 70), new(0, 0, 120, 77)];
        var together = model.Caption(image, boxes);
        for (int i = 0; i < boxes.Length; i++) Assert.Equal(model.Caption(image, [boxes[i]])[0].ToJson(), together[i].ToJson());
    }

    [Fact]
    public void Bf16ImageBatchesAreEachImageAloneBitForBit()
    {
        using var temp = new TempDirectory();
        using var model = PixelLlmModel.Load(RandomModelDirectory(temp, "pixelllm/caption_trace.json", DType.BF16));
        var images = new[] { "scene_2000001", "scene_2000002", "scene_2000003" }
            .Select(n => PixelImage.Load(Path.Combine(RepoRoot.Path, "samples", n + ".png"))).ToArray();
        var batch = model.CaptionBatch(images);                 // 3 images × 4 beams: 12 decode rows against 4 alone
        for (int i = 0; i < images.Length; i++) Assert.Equal(model.Caption(images[i]).ToJson(), batch[i].ToJson());
    }

    [Fact]
    public void AnF32DirectoryRunsInF32UnlessBf16IsAskedAndBf16RoundsItsLinearWeightsOnly()
    {
        using var temp = new TempDirectory();
        var dir = RandomModelDirectory(temp, "pixelllm_refseg/referring_segmentation.json", DType.F32);
        const string linear = "t5.encoder.block.1.layer.0.SelfAttention.q.weight";
        using (var auto = PixelLlmModel.Load(dir))
        {
            Assert.Equal(ComputePrecision.Float32, auto.Precision);
            Assert.Null(auto.Weights.Get(linear).LinearForm);
        }
        using var bf16 = PixelLlmModel.Load(dir, new PixelLlmOptions { Precision = ComputePrecision.BFloat16 });
        Assert.Equal(ComputePrecision.BFloat16, bf16.Precision);
        var weight = bf16.Weights.Get(linear);
        var rounded = weight.LinearForm!.AsSpan<ushort>().ToArray();
        var values = weight.AsSpan<float>();
        for (int i = 0; i < values.Length; i++) Assert.Equal(BFloat16.FromSingle(values[i]), rounded[i]);
        Assert.Null(bf16.Weights.Get("t5.encoder.final_layer_norm.weight").LinearForm);   // rank 1: read by the norm in f32
        var image = Image("pixelllm_refseg/referring_segmentation.json");
        var result = bf16.Segment(image, "cat");
        Assert.Equal((image.Width, image.Height), (result.Mask.Width, result.Mask.Height));

    }

    [Fact]
    public void PrecisionsABackendDoesNotHoldAreRefusedNamingTheBackend()
    {
        using var temp = new TempDirectory();
        var dir = RandomModelDirectory(temp, "pixelllm_refseg/referring_segmentation.json", DType.F16);
        var f16 = Assert.Throws<InvalidInputException>(() => PixelLlmModel.Load(dir, new PixelLlmOptions { Precision = ComputePrecision.Float16 }));
        Assert.Equal("precision f16 runs on the CUDA backend only (the cpu backend holds weights in f32 or bf16)", f16.Message);
        var f64 = Assert.Throws<InvalidInputException>(() =>
            PixelLlmModel.Load(dir, new PixelLlmOptions { Backend = ComputeBackend.CpuFloat64, Precision = ComputePrecision.BFloat16 }));
        Assert.Contains("cpu-f64", f64.Message);
        using var auto = PixelLlmModel.Load(dir);                          // an f16 directory on the CPU: widened to f32
        Assert.Equal(ComputePrecision.Float32, auto.Precision);
    }

    [Theory]
    [InlineData("caption", "half", "--precision: unknown precision 'half' (expected auto, f32, bf16 or f16)")]
    [InlineData("caption", "f16", "precision f16 runs on the CUDA backend only (the cpu backend holds weights in f32 or bf16)")]
    [InlineData("densecap", "f16", "precision f16 runs on the CUDA backend only (the cpu backend holds weights in f32 or bf16)")]
    public void ABadPrecisionIsOneLineAndExitTwoBeforeAnyModelIsRead(string command, string precision, string expected)
    {
        var missingModel = Path.Combine(Path.GetTempPath(), $"pixelllm-no-model-{Guid.NewGuid():N}");
        var image = Path.Combine(TinyModel.GoldenDir, "caption_trace.png");
        var (code, error) = CliInProcess.Run(command, image, "--precision", precision, "--model", missingModel);
        Assert.Equal(2, code);
        Assert.Equal($"error: {expected}", error.Trim());
    }

    [Fact]
    public void StoredFloatTypeIsTheTypeOfMostStoredElements()
    {
        using var temp = new TempDirectory();
        var path = temp.File("w.safetensors");
        Runtime.SafeTensors.SafeTensorsWriter.Write(path, [new("big", HostTensor.Zeros(DType.BF16, 10, 10)), new("small", HostTensor.Zeros(DType.F32, 3)),
            new("ids", HostTensor.Zeros(DType.I64, 500))]);
        using var set = new SafeTensorsSetWeights([path]);
        Assert.Equal(DType.BF16, ModelPrecision.StoredFloatType(set));
        Assert.Equal(ComputePrecision.BFloat16, ModelPrecision.Resolve(ComputePrecision.Auto, ComputeBackend.Cuda, DType.BF16));
        Assert.Equal(ComputePrecision.Float16, ModelPrecision.Resolve(ComputePrecision.Auto, ComputeBackend.Cuda, DType.F16));
        Assert.Equal(ComputePrecision.Float32, ModelPrecision.Resolve(ComputePrecision.Auto, ComputeBackend.Cpu, DType.F16));
        Assert.Equal(ComputePrecision.Float32, ModelPrecision.Resolve(ComputePrecision.Auto, ComputeBackend.CpuFloat64, DType.BF16));
        Assert.Equal(ComputePrecision.Float32, ModelPrecision.Resolve(ComputePrecision.Float32, ComputeBackend.Cuda, DType.BF16));
    }
}
