using PixelLLM.Backends.Cpu;
using PixelLLM.Cli;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.Tests.Api;

/// <summary>
/// Resource bounds on the tiny golden model: weights vs available memory at load, prompt and decode limits before any
/// allocation, and a backend out-of-memory that leaves the same loaded model serving the next request unchanged.
/// </summary>
public sealed class ResourceBoundsApiTests : IClassFixture<TinyModel>
{
    private readonly TinyModel tiny;

    public ResourceBoundsApiTests(TinyModel tiny) => this.tiny = tiny;

    private static readonly Box[] FourBoxes =
        [new(38.18f, 45.33f, 64.86f, 93.16f), new(35.56f, 77.19f, 48.62f, 113.57f), new(6.2f, 9.55f, 25.88f, 42.37f), new(0, 0, 70, 120)];

    [Fact]
    public void WeightsLargerThanAvailableMemoryAreRefusedAtLoadWithBothKindsOfBytes()
    {
        var e = Assert.Throws<ResourceLimitException>(() => PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { AvailableMemoryBytes = 4096 }));
        Assert.Equal("available memory", e.Limit);
        Assert.StartsWith(Path.GetFullPath(tiny.Directory) + ": the weights need ", e.Message);
        // The tiny model's safetensors hold scenic names: every tensor becomes an f32 copy, nothing is used in place.
        Assert.Contains("(0 B of tensors used in place from the mapped files + ", e.Message);
        Assert.Contains("available (PixelLlmOptions.AvailableMemoryBytes 4.0 KiB)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // The files were released: the directory can be loaded again with enough memory.
        using var model = PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { AvailableMemoryBytes = long.MaxValue });
        Assert.Equal(tiny.Model.Caption(TinyModel.Image("caption_trace")).ToJson(), model.Caption(TinyModel.Image("caption_trace")).ToJson());
    }

    [Fact]
    public void Bf16TensorsCountTwiceTheirFileBytesAndF32TensorsAreMappedInPlace()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"pixelllm-weights-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var f32 = Path.Combine(dir, "a.safetensors");
            var bf16 = Path.Combine(dir, "b.safetensors");
            SafeTensorsWriter.Write(f32, [new("w", HostTensor.Zeros(DType.F32, 3, 7)), new("ids", HostTensor.Zeros(DType.I32, 5))]);
            SafeTensorsWriter.Write(bf16, [new("v", HostTensor.Zeros(DType.BF16, 11, 13)), new("h", HostTensor.Zeros(DType.F16, 2))]);
            using var set = new SafeTensorsSetWeights([f32, bf16]);
            var memory = WeightMemory.OfEngineTensors(set);
            Assert.Equal(3 * 7 * 4 + 5 * 4, memory.MappedBytes);
            Assert.Equal((11 * 13 + 2) * 4, memory.MaterialisedBytes);
            Assert.Equal(memory.MappedBytes + memory.MaterialisedBytes, memory.RequiredBytes(ComputeBackend.Cpu));
            Assert.Equal(memory.MaterialisedBytes, memory.RequiredBytes(ComputeBackend.Cuda)); // uploaded: mapped pages are read once
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TooManyPromptsAreRefusedNamingTheOptionAndTheModelStillServes()
    {
        using var model = PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { MaxPromptsPerRequest = 3 });
        var image = TinyModel.Image("loca_caption");
        var e = Assert.Throws<ResourceLimitException>(() => model.Caption(image, FourBoxes));
        Assert.Equal("caption: 4 prompts in one request, more than PixelLlmOptions.MaxPromptsPerRequest (3); split the request or raise the option", e.Message);
        Assert.Equal(0, model.PooledInstances); // refused before anything was compiled or allocated
        Assert.Equal(tiny.Model.Caption(image, FourBoxes[..3]).Select(r => r.ToJson()), model.Caption(image, FourBoxes[..3]).Select(r => r.ToJson()));
    }

    [Fact]
    public void DecodePositionsBoundBeamsTimesPromptsTimesLength()
    {
        int l = tiny.Model.MaxCaptionLength;
        var tooShort = Assert.Throws<ResourceLimitException>(() => PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { MaxDecodePositions = 4 * l - 1 }));
        Assert.Contains($"config.json's max_caption_length {l} is too long", tooShort.Message);
        Assert.Contains($"caption: 4 beam(s) × 1 prompt(s) × length {l} = {4 * l} decode positions, more than PixelLlmOptions.MaxDecodePositions ({4 * l - 1})", tooShort.Message);

        using var model = PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { MaxDecodePositions = 4 * l });
        var image = TinyModel.Image("loca_caption");
        var e = Assert.Throws<ResourceLimitException>(() => model.Caption(image, [.. FourBoxes, FourBoxes[0]]));
        Assert.Equal("MaxDecodePositions", e.Limit);
        Assert.StartsWith($"caption: 1 beam(s) × 5 prompt(s) × length {l} = {5 * l} decode positions", e.Message);
        Assert.Equal(0, model.PooledInstances);
        Assert.Equal(4, model.Caption(image, FourBoxes).Count); // 4 × L fits exactly
    }

    [Fact]
    public void OutOfWorkingMemoryIsTypedAndTheSameModelServesTheNextRequestIdentically()
    {
        var image = TinyModel.Image("loca_caption");
        Box[] many = [.. Enumerable.Range(0, 12).Select(i => FourBoxes[i % 4])];

        // What one single-box request keeps allocated (its compiled graphs' arenas and states) on a fresh model.
        long oneBox;
        byte[] expected;
        using (var probe = PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { MaxConcurrentRequests = 1 }))
        {
            expected = probe.Caption(image, FourBoxes[0]).ToJson();
            oneBox = ((CpuBackend)probe.Backend).Budget.UsedBytes;
        }
        Assert.True(oneBox > 0);

        using var model = PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { MaxConcurrentRequests = 1, MaxWorkingMemoryBytes = oneBox });
        var budget = ((CpuBackend)model.Backend).Budget;
        Assert.Equal(expected, model.Caption(image, FourBoxes[0]).ToJson());
        Assert.Equal(oneBox, budget.UsedBytes);

        var e = Assert.Throws<OutOfBackendMemoryException>(() => model.Caption(image, many));
        Assert.StartsWith("out of memory: cpu backend working memory cannot allocate ", e.Message);
        Assert.IsAssignableFrom<BackendException>(e);
        Assert.Equal(0, budget.UsedBytes); // the failed request's instance and every graph it cached were released
        Assert.Equal(0, model.PooledInstances);

        for (int i = 0; i < 2; i++) Assert.Equal(expected, model.Caption(image, FourBoxes[0]).ToJson());
        Assert.Equal(oneBox, budget.UsedBytes);
    }

    [Fact]
    public void CliReportsAPromptLimitAsBadInputWithoutWritingOutput()
    {
        var outDir = Path.Combine(Path.GetTempPath(), $"pixelllm-cli-bounds-{Guid.NewGuid():N}");
        Directory.CreateDirectory(outDir);
        try
        {
            var json = Path.Combine(outDir, "result.json");
            var args = new RequestArgs(Path.Combine(TinyModel.GoldenDir, "loca_caption.png"), tiny.Directory, "cpu", json, null, null);
            var boxes = Enumerable.Repeat("1,1,20,20", new PixelLlmOptions().MaxPromptsPerRequest + 1).ToArray();
            Assert.Equal(CliErrors.BadInput, CliErrors.Guard(() => CaptionCommand.Run(args, boxes, new StringWriter())));
            Assert.False(File.Exists(json));
        }
        finally { Directory.Delete(outDir, recursive: true); }
    }
}
