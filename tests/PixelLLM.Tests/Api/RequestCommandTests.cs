using System.Text.Json;
using PixelLLM.Cli;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.Tests.Api;

/// <summary>
/// The caption / refer command handlers in-process: outputs written (JSON per the README schema, a PNG overlay, a dump of
/// the named intermediates), and on bad input exit code 2 with no output file at all.
/// </summary>
public sealed class RequestCommandTests : IClassFixture<TinyModel>, IDisposable
{
    private readonly TinyModel tiny;
    private readonly string outDir = Path.Combine(Path.GetTempPath(), $"pixelllm-cli-{Guid.NewGuid():N}");

    public RequestCommandTests(TinyModel tiny)
    {
        this.tiny = tiny;
        Directory.CreateDirectory(outDir);
    }

    private static string Png(string caseName) => Path.Combine(TinyModel.GoldenDir, caseName + ".png");

    private RequestArgs Args(string image, string? model = null) => new(image, model ?? tiny.Directory, "cpu",
        Path.Combine(outDir, "result.json"), Path.Combine(outDir, "overlay.png"), Path.Combine(outDir, "dump.safetensors"));

    private static int Guarded(Func<int> run) => CliErrors.Guard(run);

    [Fact]
    public void CaptionWritesJsonOverlayAndDump()
    {
        var output = new StringWriter();
        Assert.Equal(0, Guarded(() => CaptionCommand.Run(Args(Png("caption_trace")), [], output)));
        Assert.StartsWith("p largea carre p small", output.ToString());

        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(outDir, "result.json")));
        var root = json.RootElement;
        Assert.Equal("pixelllm-result/1", root.GetProperty("schema").GetString());
        Assert.Equal("caption", root.GetProperty("task").GetString());
        Assert.Equal(119, root.GetProperty("image").GetProperty("width").GetInt32());
        var result = Assert.Single(root.GetProperty("results").EnumerateArray());
        Assert.Equal("p largea carre p small", result.GetProperty("text").GetString());
        Assert.Equal(4, result.GetProperty("box").GetArrayLength());
        var tokens = result.GetProperty("tokens").EnumerateArray().ToList();
        Assert.Equal(9, tokens.Count); // BOS + 7 words + EOS (golden text_tokens)
        Assert.All(tokens, t => Assert.Equal(2, t.GetProperty("points").GetArrayLength()));

        var overlay = PixelImage.Load(Path.Combine(outDir, "overlay.png"));
        Assert.True(overlay.Width >= 119 && overlay.Height > 86);

        using var dump = SafeTensorsFile.Open(Path.Combine(outDir, "dump.safetensors"));
        foreach (var name in new[] { "mid.git_visual_features", "mid.sam_visual_features", "mid.fused_features", "mid.adapter_out",
                     "mid.encoder_output", "mid.text_feats", "out.point_coords", "out.text_tokens" })
            Assert.True(dump.Contains(name), name);
        Assert.DoesNotContain(Directory.GetFiles(outDir), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public void SameCommandWritesIdenticalJsonBytes()
    {
        var args = Args(Png("referring")) with { Overlay = null, Dump = null };
        Assert.Equal(0, Guarded(() => ReferCommand.Run(args, ["a small dog"], false, TextWriter.Null)));
        var first = File.ReadAllBytes(args.Json!);
        Assert.Equal(0, Guarded(() => ReferCommand.Run(args, ["a small dog"], false, TextWriter.Null)));
        Assert.Equal(first, File.ReadAllBytes(args.Json!));
    }

    [Fact]
    public void BatchedBoxesGiveOneResultEach()
    {
        var args = Args(Png("loca_caption")) with { Overlay = null, Dump = null };
        Assert.Equal(0, Guarded(() => CaptionCommand.Run(args, ["38.18,45.33,64.86,93.16", "6.2,9.55,25.88,42.37"], TextWriter.Null)));
        using var json = JsonDocument.Parse(File.ReadAllBytes(args.Json!));
        var texts = json.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("text").GetString()!).ToArray();
        Assert.Equal(["Aingleing theing theinga lo", "Axa lo"], texts);
    }

    public static TheoryData<string, string> BadInputs => new()
    {
        { "unreadable image", "caption" },
        { "box outside", "caption" },
        { "degenerate box", "caption" },
        { "malformed box", "caption" },
        { "empty text", "refer" },
        { "long text", "refer" },
        { "bad model dir", "refer" },
        { "bad backend", "caption" },
        { "missing output folder", "caption" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputExitsWithTwoAndWritesNothing(string what, string command)
    {
        var garbage = Path.Combine(outDir, "garbage.png");
        File.WriteAllBytes(garbage, [1, 2, 3, 4, 5]);
        var args = Args(Png("referring"));
        string[] boxes = [];
        string text = "a small dog";
        switch (what)
        {
            case "unreadable image": args = args with { Image = garbage }; break;
            case "box outside": boxes = ["0,0,121,50"]; break;
            case "degenerate box": boxes = ["10,10,10,20"]; break;
            case "malformed box": boxes = ["1,2,3"]; break;
            case "empty text": text = ""; break;
            case "long text": text = string.Join(' ', Enumerable.Repeat("the red ball", 20)); break;
            case "bad model dir": args = args with { Model = outDir }; break;
            case "bad backend": args = args with { Backend = "tpu" }; break;
            case "missing output folder": args = args with { Json = Path.Combine(outDir, "no", "such", "dir", "r.json") }; break;
        }
        int code = Guarded(() => command == "caption" ? CaptionCommand.Run(args, boxes, TextWriter.Null) : ReferCommand.Run(args, [text], false, TextWriter.Null));
        Assert.Equal(CliErrors.BadInput, code);
        Assert.Equal([garbage], Directory.GetFiles(outDir));
    }

    [Fact]
    public void AMissingDefaultModelIsNamed()
    {
        // The test binaries live under the repository, whose models/default is absent in a checkout without a bundled model.
        var e = Record.Exception(() => RequestOptionsCli.ResolveModel(null));
        if (e is null) Assert.True(Directory.Exists(RequestOptionsCli.ResolveModel(null)));
        else Assert.Contains("models", e.Message);
        Assert.Equal("/x", RequestOptionsCli.ResolveModel("/x"));
    }

    public void Dispose()
    {
        try { Directory.Delete(outDir, recursive: true); } catch (IOException) { }
    }
}
