using System.Text.Json;
using PixelLLM.Cli;

namespace PixelLLM.Tests.Api;

/// <summary>
/// The segment / densecap command handlers in-process: JSON per the README schema, a PNG overlay, and on bad input exit code 2
/// with no output file at all (outputs are all-or-nothing).
/// </summary>
public sealed class TaskCommandTests : IClassFixture<RefsegModel>, IClassFixture<DensecapModel>, IDisposable
{
    private readonly RefsegModel refseg;
    private readonly DensecapModel densecap;
    private readonly string outDir = Path.Combine(Path.GetTempPath(), $"pixelllm-cli-tasks-{Guid.NewGuid():N}");

    public TaskCommandTests(RefsegModel refseg, DensecapModel densecap)
    {
        (this.refseg, this.densecap) = (refseg, densecap);
        Directory.CreateDirectory(outDir);
    }

    private RequestArgs Args(TaskModel model) => new(model.ImagePath, model.Directory, "cpu",
        Path.Combine(outDir, "result.json"), Path.Combine(outDir, "overlay.png"), null);

    [Fact]
    public void SegmentWritesJsonWithTheMaskAndAnOverlay()
    {
        var output = new StringWriter();
        Assert.Equal(0, CliErrors.Guard(() => SegmentCommand.Run(Args(refseg), ["the white cat near the table"], output)));
        Assert.StartsWith("[55.27", output.ToString());
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "result.json")));
        Assert.Equal("segment", json.RootElement.GetProperty("task").GetString());
        var result = Assert.Single(json.RootElement.GetProperty("results").EnumerateArray());
        Assert.Equal("of of o", result.GetProperty("text").GetString());
        var mask = result.GetProperty("mask");
        Assert.Equal([93, 120], mask.GetProperty("size").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(93 * 120, mask.GetProperty("counts").EnumerateArray().Sum(v => v.GetInt32()));
        var overlay = PixelImage.Load(Path.Combine(outDir, "overlay.png"));
        Assert.True(overlay.Width >= 120 && overlay.Height > 93);
    }

    /// <summary>--teacher-forced through the command tree: the golden's teacher box (not the beam one above), the expression as text, no score.</summary>
    [Fact]
    public void SegmentTeacherForcedTakesTheExpressionAsTheDecoderInput()
    {
        var output = new StringWriter();
        var json = Path.Combine(outDir, "teacher.json");
        int exit = CliRoot.Create().Parse(["segment", refseg.ImagePath, "the white cat near the table", "--teacher-forced", "--model", refseg.Directory,
            "--json", json]).Invoke(new() { Output = output });
        Assert.Equal(0, exit);
        Assert.StartsWith("[-19.84", output.ToString());
        Assert.DoesNotContain("decoded text", output.ToString());
        using var document = JsonDocument.Parse(File.ReadAllBytes(json));
        var result = Assert.Single(document.RootElement.GetProperty("results").EnumerateArray());
        Assert.Equal("the white cat near the table", result.GetProperty("text").GetString());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("score").ValueKind);
    }

    [Fact]
    public void DenseCaptionWritesOneResultPerCountedDetection()
    {
        var output = new StringWriter();
        Assert.Equal(0, CliErrors.Guard(() => DenseCaptionCommand.Run(Args(densecap), output)));
        Assert.Equal(3, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "result.json")));
        Assert.Equal("densecap", json.RootElement.GetProperty("task").GetString());
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["vtoq ob manho ob birdt tree", "var", "varo: obre wh atou"], results.Select(r => r.GetProperty("text").GetString()));
        Assert.All(results, r => Assert.True(r.GetProperty("score").GetSingle() > 0));
        Assert.True(File.Exists(Path.Combine(outDir, "overlay.png")));
    }

    public static TheoryData<string> BadInputs => new() { "no mask branch", "no box decoder", "empty text", "unreadable image", "missing output folder" };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputExitsWithTwoAndWritesNothing(string what)
    {
        var garbage = Path.Combine(outDir, "garbage.png");
        File.WriteAllBytes(garbage, [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        int code = CliErrors.Guard(() => what switch
        {
            "no mask branch" => SegmentCommand.Run(Args(densecap), ["a dog"], TextWriter.Null),
            "no box decoder" => DenseCaptionCommand.Run(Args(refseg), TextWriter.Null),
            "empty text" => SegmentCommand.Run(Args(refseg), ["  "], TextWriter.Null),
            "unreadable image" => DenseCaptionCommand.Run(Args(densecap) with { Image = garbage }, TextWriter.Null),
            _ => SegmentCommand.Run(Args(refseg) with { Json = Path.Combine(outDir, "no", "dir", "r.json") }, ["a dog"], TextWriter.Null),
        });
        Assert.Equal(CliErrors.BadInput, code);
        Assert.Equal([garbage], Directory.GetFiles(outDir));
    }

    public void Dispose()
    {
        try { Directory.Delete(outDir, recursive: true); } catch (IOException) { }
    }
}
