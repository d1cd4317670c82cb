using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// Image features stay in the vision graph's outputs until the model encodes another image: prompts encoded from them
/// copy them on the backend, and features of an earlier image are fetched to the host before they would be overwritten.
/// </summary>
public sealed class ImageFeaturesResidencyTests : IDisposable
{
    private readonly CpuBackend backend = new();

    [Fact]
    public void PromptsFromResidentFeaturesEqualPromptsFromTheirHostCopy()
    {
        using var golden = ScenicGolden.Open("caption_trace");
        using var model = Model(golden);
        var image = model.EncodeImage(golden.Input("in.image"));
        var (boxes, context) = Prompt(image);
        var resident = model.EncodePrompts(image, boxes, context);
        var viaHost = model.EncodePrompts(image.Fused, boxes, context);
        Assert.Equal(viaHost.EncoderOutput.ToFloatArray(), resident.EncoderOutput.ToFloatArray());
    }

    [Fact]
    public void AnEarlierImagesFeaturesSurviveTheNextImage()
    {
        using var golden = ScenicGolden.Open("caption_trace");
        using var model = Model(golden);
        var pixels = golden.Input("in.image");
        var first = model.EncodeImage(pixels);
        var expected = model.EncodeImage(pixels).Fused.ToFloatArray(); // detaches `first`, then the same image again
        var flipped = Flip(pixels);
        var second = model.EncodeImage(flipped);                        // overwrites the vision outputs
        Assert.NotEqual(expected, second.Fused.ToFloatArray());
        Assert.Equal(expected, first.Fused.ToFloatArray());
        Assert.NotNull(first.Sam);

        // The earlier features are no longer on the backend, so their prompts go through the host copy, and match.
        var (boxes, context) = Prompt(first);
        Assert.Equal(model.EncodePrompts(first.Fused, boxes, context).EncoderOutput.ToFloatArray(),
            model.EncodePrompts(first, boxes, context).EncoderOutput.ToFloatArray());
    }

    [Fact]
    public void ReleasedFeaturesAreNotCopiedToTheHostAndCannotBeReadOnceOverwritten()
    {
        using var golden = ScenicGolden.Open("caption_trace");
        using var model = Model(golden);
        var pixels = golden.Input("in.image");
        var kept = model.EncodeImage(pixels).Fused.ToFloatArray();

        var released = model.EncodeImage(pixels);
        model.ReleaseImage(released);
        var (boxes, context) = Prompt(released);
        model.EncodePrompts(released, boxes, context);              // still on the backend: fine
        model.EncodeImage(Flip(pixels));                            // overwrites it without a host copy
        Assert.Throws<InvalidOperationException>(() => released.Fused);

        var read = model.EncodeImage(pixels);
        Assert.Equal(kept, read.Fused.ToFloatArray());             // read before release: a host copy as usual
        model.ReleaseImage(read);
        model.EncodeImage(Flip(pixels));
        Assert.Equal(kept, read.Fused.ToFloatArray());
    }

    [Fact]
    public void FeaturesStayReadableAfterTheModelIsDisposed()
    {
        using var golden = ScenicGolden.Open("caption_trace");
        ImageFeatures image, reference;
        using (var other = Model(golden)) reference = other.EncodeImage(golden.Input("in.image"));
        using (var model = Model(golden)) image = model.EncodeImage(golden.Input("in.image"));
        Assert.Equal(reference.Fused.ToFloatArray(), image.Fused.ToFloatArray());
        Assert.Equal(reference.Sam!.ToFloatArray(), image.Sam!.ToFloatArray());
    }

    [Fact]
    public void ExecutorInputFromAnotherExecutorIsCopiedAndChecked()
    {
        static Graph Doubler(string input, int rows = 2, int columns = 3)
        {
            var g = new Graph();
            var x = g.Input(input, DType.F32, rows, columns);
            g.Output("y", g.Apply(new PixelLLM.Runtime.Ops.BinaryOp(PixelLLM.Runtime.Ops.BinaryKind.Add), x, x));
            return g;
        }
        using var first = new GraphExecutor(Doubler("a"), backend);
        using var second = new GraphExecutor(Doubler("b"), backend);
        first.SetInput<float>("a", [1, 2, 3, 4, 5, 6]);
        first.Run();
        Assert.Equal(1, first.Runs);
        second.SetInput("b", first, "y");
        second.Run();
        Assert.Equal([4f, 8, 12, 16, 20, 24], second.FetchFloats("y"));

        using var third = new GraphExecutor(Doubler("c", 3, 2), backend);
        Assert.Throws<InvalidInputException>(() => third.SetInput("c", first, "y"));
    }

    private PixelLlm Model(GoldenCase golden) => PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);

    private static (HostTensor Boxes, int[][] Context) Prompt(ImageFeatures image) =>
        (HostTensor.FromArray(new float[] { 0, 0, image.Width, image.Height }, 1, 4), [[0, 0, 0, 0]]);

    private static HostTensor Flip(HostTensor image)
    {
        var bytes = image.Data.ToArray();
        int h = image.Shape[0], rowBytes = bytes.Length / h;
        var flipped = new byte[bytes.Length];
        for (int r = 0; r < h; r++) Array.Copy(bytes, r * rowBytes, flipped, (h - 1 - r) * rowBytes, rowBytes);
        return new HostTensor(image.Desc, flipped);
    }

    public void Dispose() => backend.Dispose();
}
