using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// Between a request's phases the prompt encoding and the teacher-forced states stay on the backend: decoding and the
/// rerun read the encoding there, the point head reads the states there, and nothing but tokens and points comes back
/// to the host. The results equal those of the same phases fed from host copies.
/// </summary>
public sealed class RequestResidencyTests : IDisposable
{
    private readonly CountingBackend backend = new();

    public static TheoryData<string, string> Cases() => new()
    {
        { "pixelllm", "caption_trace" },
        { "pixelllm_git", "caption_trace" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void PhasesHandOverOnTheBackendAndGiveTheHostPathsResults(string component, string caseName)
    {
        using var golden = GoldenCase.Open(Path.Combine(Golden.Root, component, caseName));
        using var model = PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        var image = model.EncodeImage(golden.Input("in.image"));
        var boxes = HostTensor.FromArray(golden.Input("in.prompt_boxes").ToFloatArray(), 1, 4);
        var context = new[] { golden.Input("in.context_tokens").ToFloatArray().Select(v => (int)v).ToArray() };
        var sizes = new[] { (image.Height, image.Width) };

        backend.Reset();
        var encoding = model.EncodePrompts(image, boxes, context);
        Assert.Empty(backend.Reads);
        var decoded = model.Decode(encoding, new DecodeMode.Greedy());
        // Per step the greedy choice only (token, log-prob, margin per row): neither the encoding nor GIT's memory keys
        // and values, nor a row of logits.
        Assert.All(backend.Reads, bytes => Assert.True(bytes <= 3 * sizeof(float), $"a decode read of {bytes} bytes"));
        Assert.NotEmpty(backend.Reads);
        var tokens = decoded.Raw.Select(r => PixelLlmTokens.ZeroAfterFirstEos(r, model.Config.EndTokenId)).ToArray();
        backend.Reset();
        var text = model.TeacherForced(encoding, tokens, withLogits: false);
        Assert.Empty(backend.Reads);
        // T5: every layer's cross-attention keys and values from the decoder's prefill; GIT: the encoding as its memory.
        Assert.Equal(component == "pixelllm" ? 2 * model.Config.T5.NumDecoderLayers : 1, backend.Copies);
        var points = model.Points(text, tokens, sizes, TokenValidity.Trace);
        Assert.Equal((points.Coords.Desc.ByteSize + points.Logits.Desc.ByteSize), backend.BytesRead); // the points, nothing else

        // The same phases from host copies of every hand-over.
        var viaHost = new PromptEncoding(encoding.EncoderOutput, encoding.EncoderValid);
        var decodedViaHost = model.Decode(viaHost, new DecodeMode.Greedy());
        Assert.Equal(decoded.Raw, decodedViaHost.Raw);
        Assert.Equal(decoded.LogProbs, decodedViaHost.LogProbs);
        var textViaHost = model.TeacherForced(viaHost, tokens, withLogits: false);
        Assert.Equal(text.Features.ToFloatArray(), textViaHost.Features.ToFloatArray());
        var pointsViaHost = model.Points(textViaHost.Features, tokens, sizes, TokenValidity.Trace);
        Assert.Equal(points.Coords.ToFloatArray(), pointsViaHost.Coords.ToFloatArray());
    }

    /// <summary>
    /// After a beam search the rerun reads the prefill rows of each prompt's first beam; the states equal those of a rerun
    /// that projects the memory itself, bit for bit (the same GEMMs on the same memory).
    /// </summary>
    [Fact]
    public void TheRerunAfterABeamSearchReadsEachPromptsPrefillRows()
    {
        using var golden = ScenicGolden.Open("loca_caption");
        using var model = PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        var image = model.EncodeImage(golden.Input("in.image"));
        var boxesIn = golden.Input("in.prompt_boxes");
        int n = boxesIn.Shape[-2];
        var boxes = HostTensor.FromArray(boxesIn.ToFloatArray(), n, 4);
        var flat = golden.Input("in.context_tokens").ToFloatArray().Select(v => (int)v).ToArray();
        var context = Enumerable.Range(0, n).Select(i => flat.AsSpan(i * (flat.Length / n), flat.Length / n).ToArray()).ToArray();
        var encoding = model.EncodePrompts(image, boxes, context);
        var decoded = model.Decode(encoding, new DecodeMode.Beam(new BeamOptions(3, 2)));
        var tokens = decoded.Raw.Select(r => PixelLlmTokens.ZeroAfterFirstEos(r, model.Config.EndTokenId)).ToArray();

        backend.Reset();
        var reused = model.TeacherForced(encoding, tokens, withLogits: true);
        Assert.Equal(2 * model.Config.T5.NumDecoderLayers, backend.Copies);
        var computed = model.TeacherForced(new PromptEncoding(encoding.EncoderOutput, encoding.EncoderValid), tokens, withLogits: true);
        Assert.True(n > 1);
        Assert.Equal(computed.Features.ToFloatArray(), reused.Features.ToFloatArray());
        Assert.Equal(computed.Logits!.ToFloatArray(), reused.Logits!.ToFloatArray());
    }

    [Fact]
    public void AnEncodingOrStatesStillHeldSurviveTheNextRequestAndReleasedOnesDoNot()
    {
        using var golden = ScenicGolden.Open("caption_trace");
        using var model = PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        var image = model.EncodeImage(golden.Input("in.image"));
        var boxes = HostTensor.FromArray(new float[] { 0, 0, image.Width, image.Height }, 1, 4);
        int[][] first = [[0, 0, 0, 0]], second = [[5, 7, 9, 1]];
        int[][] tokens = [[0, 12, 13, 14, 1, 0, 0, 0, 0, 0, 0, 0]];

        var reference = model.EncodePrompts(image, boxes, first);
        var expected = reference.EncoderOutput.ToFloatArray();
        var expectedText = model.TeacherForced(reference, tokens, withLogits: false).Features.ToFloatArray();

        var held = model.EncodePrompts(image, boxes, first);
        var heldText = model.TeacherForced(held, tokens, withLogits: false);
        var other = model.EncodePrompts(image, boxes, second);            // overwrites both graphs' outputs
        var otherText = model.TeacherForced(other, tokens, withLogits: false);
        Assert.NotEqual(expected, other.EncoderOutput.ToFloatArray());
        Assert.NotEqual(expectedText, otherText.Features.ToFloatArray());
        Assert.Equal(expected, held.EncoderOutput.ToFloatArray());
        Assert.Equal(expectedText, heldText.Features.ToFloatArray());

        var released = model.EncodePrompts(image, boxes, first);
        var releasedText = model.TeacherForced(released, tokens, withLogits: false);
        model.ReleasePrompts(released);
        model.ReleaseText(releasedText);
        backend.Reset();
        model.TeacherForced(model.EncodePrompts(image, boxes, second), tokens, withLogits: false);
        Assert.Empty(backend.Reads);                                     // nothing held: nothing copied back
        Assert.Throws<InvalidOperationException>(() => released.EncoderOutput);
        Assert.Throws<InvalidOperationException>(() => releasedText.Features);
    }

    [Fact]
    public void TheBoxDecodersFeaturePyramidGoesToItsRoiHeadOnTheBackend()
    {
        using var golden = GoldenCase.Open(Path.Combine(Golden.Root, "pixelllm_densecap", "densecap"));
        using var model = PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        using var captioner = new PixelLLM.Models.DenseCaptioning.DenseCaptioner(model);
        var image = model.EncodeImage(golden.Input("in.image"));
        var trace = new Dictionary<string, HostTensor>(StringComparer.Ordinal);
        var expected = captioner.BoxDecoder.Detect(image.Fused, trace);           // from the host copy, traced
        var levels = trace.Keys.Where(k => k.StartsWith("mid.fpn.", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(levels);

        var fresh = model.EncodeImage(golden.Input("in.image"));
        backend.Reset();
        var detections = captioner.BoxDecoder.Detect(fresh);
        // Read back: each level's heat map and box regressions, then the RoI head's class logits and box deltas; neither
        // the fused map nor a pyramid level.
        Assert.Equal(2 * levels.Count + 2, backend.Reads.Count);
        Assert.Equal(expected.Boxes, detections.Boxes);
        Assert.Equal(expected.Scores, detections.Scores);
    }

    public void Dispose() => backend.Dispose();
}
