using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// The whole PixelLLM (T5 variant) against the end-to-end goldens through the same path as `pixelllm verify`: every out.* and
/// mid.* tensor of caption_trace (beam 4/2), loca_caption (greedy, padding box) and referring (teacher-forced and beam 3/1,
/// padding slot) within the case's tolerance rules, token ids and masks exact.
/// </summary>
public class PixelLlmGoldenTests(ITestOutputHelper log)
{
    public static TheoryData<string> Cases => new(ScenicGolden.Cases);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesScenicEndToEnd(string caseName)
    {
        var report = GoldenCaseAssert.Passes(ScenicGolden.Component, caseName);
        foreach (var c in report.Checks) log.WriteLine($"{c.Name} {c.Shape}: max abs {c.MaxAbsError:E2}, err/tol {c.WorstRatio:F3} {c.Note}");
        // Every kind of output is really compared, not just present.
        foreach (var expected in new[] { "text_tokens", "point_coords", "point_detection_boxes", "tf_logits", "encoder_output", "git_tokens" })
            Assert.Contains(report.Checks, c => c.Name.EndsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("tiny_t5.weights.safetensors")]
    [InlineData("tiny_t5.scenic.msgpack")]
    public void LoadsFromAConfigAndAScenicWeightsFile(string weightsFile)
    {
        var dir = Path.Combine(Golden.Root, ScenicGolden.Component);
        using var backend = new CpuBackend();
        using var model = PixelLlm.Load(Path.Combine(dir, "caption_trace.json"), Path.Combine(dir, weightsFile), backend);
        using var golden = ScenicGolden.Open("caption_trace");
        var image = model.EncodeImage(golden.Input("in.image"));
        var check = PixelLLM.Models.Verification.GoldenComparison.CompareOne("mid.fused_features", golden.Input("mid.fused_features"), image.Fused,
            PixelLLM.Models.Verification.Tolerance.Default);
        Assert.True(check.Passed, $"max|err| {check.MaxAbsError:E2}");
        Assert.Throws<ModelFileException>(() => PixelLlm.Load(Path.Combine(dir, "README.md"), Path.Combine(dir, "tiny_t5.weights.safetensors"), backend));
    }

    [Fact]
    public void RejectsAnImageLargerThanTheCanvas()
    {
        using var golden = ScenicGolden.Open("caption_trace");
        using var backend = new CpuBackend();
        using var model = PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        int canvas = model.Config.Canvas;
        var e = Assert.Throws<InvalidInputException>(() => model.EncodeImage(HostTensor.Zeros(DType.U8, canvas + 1, canvas, 3)));
        Assert.Contains("canvas", e.Message);
        Assert.Throws<InvalidInputException>(() => model.EncodeImage(HostTensor.Zeros(DType.I32, 10, 10, 3)));
        Assert.Throws<InvalidInputException>(() => model.EncodeImage(HostTensor.Zeros(DType.U8, 10, 10, 4)));
    }

    [Fact]
    public void RejectsMalformedPrompts()
    {
        using var golden = ScenicGolden.Open("caption_trace");
        using var backend = new CpuBackend();
        using var model = PixelLlm.FromScenic(PixelLlmConfigJson.FromScenic(golden.Config), golden.Weights, backend);
        var fused = golden.Input("mid.fused_features");
        int[][] context = [[3, 22, 1]];
        Assert.Throws<InvalidInputException>(() => model.EncodePrompts(fused, HostTensor.Zeros(DType.F32, 1, 3), context));
        Assert.Throws<InvalidInputException>(() => model.EncodePrompts(fused, HostTensor.Zeros(DType.F32, 2, 4), context));
        Assert.Throws<InvalidInputException>(() => model.EncodePrompts(fused, HostTensor.Zeros(DType.F32, 2, 4), [[3, 1], [3, 22, 1]]));
    }
}
