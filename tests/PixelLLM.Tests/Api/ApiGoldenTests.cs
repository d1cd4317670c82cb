using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>
/// The public API on the golden tiny T5 model and PNGs reproduces the end-to-end goldens: token ids exact, points and boxes within
/// the cases' pixel tolerance (atol 2e-3, rtol 1e-4). The golden PNGs are already at their eval size, so original pixels = model pixels.
/// </summary>
public class ApiGoldenTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    private const float PixelAtol = 2e-3f, PixelRtol = 1e-4f;

    [Fact]
    public void CaptionOfTheWholeImageIsTheCaptionTraceCase()
    {
        using var golden = ScenicGolden.Open("caption_trace");
        var result = tiny.Model.Caption(TinyModel.Image("caption_trace"));

        AssertTokens(golden.Input("out.text_tokens").ToFloatArray(), 0, result.Tokens);
        Assert.Equal("p largea carre p small", result.Text);
        Assert.Equal(golden.Input("out.log_probs").ToFloatArray()[0], result.Score, 1e-4f);
        var image = golden.Input("in.image").Shape;
        Assert.Equal(Box.Whole(image[1], image[0]), result.PromptBox);
        AssertPoints(golden.Input("out.point_coords").ToFloatArray(), 0, result.Tokens);
        AssertValid(golden.Input("out.point_valid_mask").ToFloatArray(), 0, result.Tokens);
        AssertBox(golden.Input("out.point_detection_boxes").ToFloatArray(), 0, result.TraceBox);
    }

    [Fact]
    public void BatchedBoxCaptionsAreTheLocaCase()
    {
        using var golden = ScenicGolden.Open("loca_caption");
        var boxes = golden.Input("in.prompt_boxes").ToFloatArray();
        // The case's 4th slot is an all-zero padding box, which the API refuses as degenerate: caption the three real ones.
        var prompts = Enumerable.Range(0, 3).Select(i => new Box(boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3])).ToArray();
        var results = tiny.Model.Caption(TinyModel.Image("loca_caption"), prompts);

        Assert.Equal(3, results.Count);
        var tokens = golden.Input("out.text_tokens").ToFloatArray();
        for (int i = 0; i < 3; i++)
        {
            AssertTokens(tokens, i, results[i].Tokens);
            Assert.Equal(prompts[i], results[i].PromptBox);
            Assert.Equal(golden.Input("out.log_probs").ToFloatArray()[i], results[i].Score, 1e-4f);
            AssertPoints(golden.Input("out.point_coords").ToFloatArray(), i, results[i].Tokens);
            AssertBox(golden.Input("out.point_detection_boxes").ToFloatArray(), i, results[i].TraceBox);
        }
        Assert.Equal(["Aingleing theing theinga lo", " \u2047  loingf treeing lo", "Axa lo"], results.Select(r => r.Text).ToArray());
    }

    [Theory]
    [InlineData(0, "the red ball on the left")]
    [InlineData(1, "a small dog")]
    public void TeacherForcedReferIsTheReferringCase(int slot, string expression)
    {
        using var golden = ScenicGolden.Open("referring");
        var result = tiny.Model.Refer(TinyModel.Image("referring"), expression);

        Assert.Equal(expression, result.Text);
        Assert.Null(result.Score);
        AssertTokens(golden.Input("in.gt_text_tokens").ToFloatArray(), slot, result.Tokens);
        AssertPoints(golden.Input("out.teacher.point_coords").ToFloatArray(), slot, result.Tokens);
        AssertValid(golden.Input("out.teacher.point_valid_mask").ToFloatArray(), slot, result.Tokens);
        AssertBox(golden.Input("out.teacher.point_detection_boxes").ToFloatArray(), slot, result.Box);
    }

    [Theory]
    [InlineData(0, "the red ball on the left")]
    [InlineData(1, "a small dog")]
    public void DecodedReferIsTheReferringBeamVariant(int slot, string expression)
    {
        using var golden = ScenicGolden.Open("referring");
        var result = tiny.Model.Refer(TinyModel.Image("referring"), expression, decodeText: true);

        AssertTokens(golden.Input("out.beam.text_tokens").ToFloatArray(), slot, result.Tokens);
        Assert.Equal(golden.Input("out.beam.log_probs").ToFloatArray()[slot], result.Score!.Value, 1e-4f);
        AssertPoints(golden.Input("out.beam.point_coords").ToFloatArray(), slot, result.Tokens);
        AssertBox(golden.Input("out.beam.point_detection_boxes").ToFloatArray(), slot, result.Box);
    }

    /// <summary>
    /// Both expressions in one call, teacher-forced and decoded, as the golden ran them (one batch): each result is its
    /// variant's slot, and on the CPU bit for bit the single call's.
    /// </summary>
    [Fact]
    public void SeveralExpressionsInOneReferCallAreTheReferringSlots()
    {
        using var golden = ScenicGolden.Open("referring");
        var image = TinyModel.Image("referring");
        string[] expressions = ["the red ball on the left", "a small dog"];
        var teacher = tiny.Model.Refer(image, expressions);
        var decoded = tiny.Model.Refer(image, expressions, decodeText: true);
        for (int slot = 0; slot < expressions.Length; slot++)
        {
            AssertTokens(golden.Input("out.teacher.text_tokens").ToFloatArray(), slot, teacher[slot].Tokens);
            AssertBox(golden.Input("out.teacher.point_detection_boxes").ToFloatArray(), slot, teacher[slot].Box);
            AssertTokens(golden.Input("out.beam.text_tokens").ToFloatArray(), slot, decoded[slot].Tokens);
            AssertBox(golden.Input("out.beam.point_detection_boxes").ToFloatArray(), slot, decoded[slot].Box);
            Assert.Equal(tiny.Model.Refer(image, expressions[slot]).ToJson(), teacher[slot].ToJson());
            Assert.Equal(tiny.Model.Refer(image, expressions[slot], decodeText: true).ToJson(), decoded[slot].ToJson());
        }
        Assert.Throws<InvalidInputException>(() => tiny.Model.Refer(image, Array.Empty<string>()));
        Assert.Throws<InvalidInputException>(() => tiny.Model.Refer(image, [expressions[0], ""]));
    }

    /// <summary>The result lists positions 0 … first EOS of the golden row, and the row is zero after them.</summary>
    private static void AssertTokens(float[] rows, int slot, IReadOnlyList<TraceToken> tokens)
    {
        const int L = 12;
        var row = rows.AsSpan(slot * L, L).ToArray().Select(v => (int)v).ToArray();
        int end = Array.IndexOf(row, 1, 1);
        Assert.Equal(row.Take(end + 1), tokens.Select(t => t.Id));
        Assert.All(row.Skip(end + 1), id => Assert.Equal(0, id));
        Assert.Equal(Enumerable.Range(0, end + 1), tokens.Select(t => t.Position));
    }

    private static void AssertPoints(float[] coords, int slot, IReadOnlyList<TraceToken> tokens)
    {
        const int L = 12;
        foreach (var t in tokens)
        {
            Assert.Equal(2, t.Points.Count);
            for (int p = 0; p < 2; p++)
            {
                int at = ((slot * L + t.Position) * 2 + p) * 2;
                Near(coords[at], t.Points[p].X);
                Near(coords[at + 1], t.Points[p].Y);
            }
        }
    }

    private static void AssertValid(float[] mask, int slot, IReadOnlyList<TraceToken> tokens)
    {
        foreach (var t in tokens) Assert.Equal(mask[slot * 12 + t.Position] != 0, t.Valid);
    }

    private static void AssertBox(float[] boxes, int slot, Box? box)
    {
        Assert.NotNull(box);
        var b = box.Value;
        Near(boxes[4 * slot], b.X0);
        Near(boxes[4 * slot + 1], b.Y0);
        Near(boxes[4 * slot + 2], b.X1);
        Near(boxes[4 * slot + 3], b.Y1);
    }

    private static void Near(float expected, float actual) =>
        Assert.True(Math.Abs(expected - actual) <= PixelAtol + PixelRtol * Math.Abs(expected), $"expected {expected}, got {actual}");
}

/// <summary>The same API over the GIT/BERT variant (golden tiny_git, WordPiece vocab.txt): the pixelllm_git cases' tokens and boxes.</summary>
public class ApiGitGoldenTests
{
    [Fact]
    public void CaptionAndBoxCaptionsAreTheGitCases()
    {
        var dir = TinyModel.Create(Path.Combine(Path.GetTempPath(), $"pixelllm-api-git-{Guid.NewGuid():N}"), git: true);
        try
        {
            using var model = PixelLlmModel.Load(dir);
            var trace = model.Caption(PixelImage.Load(Path.Combine(TinyModel.GitGoldenDir, "caption_trace.png")));
            Assert.Equal("h man w", trace.Text);
            Assert.Equal([2, 15, 103, 30, 3], trace.Tokens.Select(t => t.Id));
            using var golden = GoldenCase.Open(Path.Combine(TinyModel.GitGoldenDir, "caption_trace"));
            var box = golden.Input("out.point_detection_boxes").ToFloatArray();
            Assert.NotNull(trace.TraceBox);
            Assert.True(Math.Abs(box[0] - trace.TraceBox!.Value.X0) < 2e-3 && Math.Abs(box[3] - trace.TraceBox.Value.Y1) < 2e-3, $"{trace.TraceBox} vs {box[0]}, {box[3]}");

            using var loca = GoldenCase.Open(Path.Combine(TinyModel.GitGoldenDir, "loca_caption"));
            var b = loca.Input("in.prompt_boxes").ToFloatArray();
            var image = PixelImage.Load(Path.Combine(TinyModel.GitGoldenDir, "loca_caption.png"));
            var results = model.Caption(image, Enumerable.Range(0, 3).Select(i => new Box(b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3])).ToArray());
            Assert.Equal(["##cl r atl rl rl b", "caption : sitting ofed g man", "captionj"], results.Select(r => r.Text).ToArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
