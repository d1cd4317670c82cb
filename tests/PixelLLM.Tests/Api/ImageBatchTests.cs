using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;

namespace PixelLLM.Tests.Api;

/// <summary>
/// <see cref="PixelLlmModel.CaptionBatch"/>: several images through one vision pass and one decode give, on the CPU backend,
/// each image exactly what it gets alone — images of different sizes (their own padding masks and point scales), one that
/// is resized to the eval size, and the same image twice.
/// </summary>
public class ImageBatchTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    private static PixelImage[] Images() =>
    [
        TinyModel.Image("caption_trace"),  // 119 × 86
        TinyModel.Image("loca_caption"),   // 70 × 120
        PixelImage.Load(Path.Combine(Support.RepoRoot.Path, "samples", "scene_2000001.png")), // resized to the 120 canvas
        TinyModel.Image("referring"),      // 120 × 98
        TinyModel.Image("caption_trace"),
    ];

    [Fact]
    public void ImagesCaptionedInOneBatchEqualSingleCalls() => AssertBatchEqualsSingles(tiny.Model);

    [Fact]
    public void GitImagesCaptionedInOneBatchEqualSingleCalls()
    {
        var dir = TinyModel.Create(Path.Combine(Path.GetTempPath(), $"pixelllm-batch-git-{Guid.NewGuid():N}"), git: true);
        try
        {
            using var model = PixelLlmModel.Load(dir);
            AssertBatchEqualsSingles(model);
            // Boxes of one image (greedy) too: GIT's vocabulary head once chose its CPU GEMM path by prompts × beams.
            var image = TinyModel.Image("loca_caption");
            Box[] boxes = [new(38.18f, 45.33f, 64.86f, 93.16f), new(35.56f, 77.19f, 48.62f, 113.57f), new(6.2f, 9.55f, 25.88f, 42.37f), new(0, 0, 70, 120),
                new(1, 2, 30, 40), new(20, 50, 69, 119), new(10, 10, 60, 60), new(0, 60, 35, 120), new(30, 0, 70, 50)];
            var batch = model.Caption(image, boxes);
            for (int i = 0; i < boxes.Length; i++) Assert.Equal(model.Caption(image, boxes[i]).ToJson(), batch[i].ToJson());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static void AssertBatchEqualsSingles(PixelLlmModel model)
    {
        var images = Images();
        var batch = model.CaptionBatch(images);
        Assert.Equal(images.Length, batch.Count);
        for (int i = 0; i < images.Length; i++)
        {
            var single = model.Caption(images[i]);
            Assert.Equal(single.Text, batch[i].Text);
            Assert.Equal(single.Score, batch[i].Score);
            Assert.Equal(single.Tokens.SelectMany(t => t.Points), batch[i].Tokens.SelectMany(t => t.Points));
            Assert.Equal(new Box(0, 0, images[i].Width, images[i].Height), batch[i].PromptBox);
            Assert.Equal(single.ToJson(), batch[i].ToJson());
        }
        Assert.Equal(batch[0].ToJson(), batch[4].ToJson());
        Assert.True(batch.Take(4).Select(r => r.ToJson()).Distinct().Count() > 1, "different images should not all give the same result");
    }

    /// <summary>Past MaxImagesPerBatch the list runs as consecutive batches: same results, events numbered over the whole list.</summary>
    [Fact]
    public void LongerListsRunAsConsecutiveBatches()
    {
        using var model = PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { MaxImagesPerBatch = 2 });
        var events = new List<PixelLlmEvent>();
        var split = model.CaptionBatch(Images(), new RequestOptions { OnEvent = events.Add });
        var whole = tiny.Model.CaptionBatch(Images());
        Assert.Equal(whole.Select(r => r.ToJson()), split.Select(r => r.ToJson()));
        Assert.Equal([0, 1, 2, 3, 4], events.OfType<CaptionReady>().Select(e => e.Prompt));
        Assert.Equal(3, events.OfType<StageStarted>().Count(e => e.Stage == "vision"));
    }

    [Fact]
    public void EmptyAndOversizedBatchesAreRefused()
    {
        Assert.Throws<InvalidInputException>(() => tiny.Model.CaptionBatch([]));
        using var model = PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { MaxPromptsPerRequest = 2 });
        var e = Assert.Throws<ResourceLimitException>(() => model.CaptionBatch(Images()));
        Assert.Contains("MaxPromptsPerRequest", e.Message);
        var option = Assert.Throws<InvalidInputException>(() => PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { MaxImagesPerBatch = 0 }));
        Assert.Contains("MaxImagesPerBatch", option.Message);
    }

    /// <summary>The stage API: prompts on a batch of images must say which image each is on, with indices in range.</summary>
    [Fact]
    public void PromptsOnABatchNeedTheirImages()
    {
        using var golden = GoldenCase.Open(Path.Combine(Support.Golden.Root, "pixelllm", "caption_trace"));
        using var backend = new CpuBackend();
        using var model = PixelLlmWeights.Create(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        var image = golden.Input("in.image");
        var features = model.EncodeImages([image, image]);
        Assert.Equal(2, features.Count);
        var boxes = HostTensor.FromArray(new float[] { 0, 0, 119, 86 }, 1, 4);
        int[][] context = [[3, 22, 47, 41, 48, 50, 21, 9]];
        Assert.Throws<InvalidInputException>(() => model.EncodePrompts(features, boxes, context));
        Assert.Throws<InvalidInputException>(() => model.EncodePrompts(features, boxes, context, promptImages: [2]));
        var second = model.EncodePrompts(features, boxes, context, promptImages: [1]);
        var alone = model.EncodePrompts(model.EncodeImage(image), boxes, context);
        Assert.Equal(alone.EncoderOutput.ToFloatArray(), second.EncoderOutput.ToFloatArray());
    }
}
