using System.Text.Json.Nodes;
using PixelLLM.Cli;
using PixelLLM.Cli.Evaluation;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Evaluation;

/// <summary>
/// annotations.json checks on copies of the committed mini set (tests/data/synthetic-mini) with one thing broken: each is one
/// typed error naming the file and the field, raised before any model is loaded, and the command exits 2.
/// </summary>
public sealed class SceneSetReaderTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), $"pixelllm-eval-data-{Guid.NewGuid():N}");

    public static string MiniSet => Path.Combine(RepoRoot.Path, "tests", "data", "synthetic-mini");

    public SceneSetReaderTests()
    {
        Directory.CreateDirectory(dir);
        foreach (var file in Directory.GetFiles(MiniSet)) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
    }

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Annotations => Path.Combine(dir, "annotations.json");

    private void Edit(Action<JsonNode> change)
    {
        var root = JsonNode.Parse(File.ReadAllText(Annotations))!;
        change(root);
        File.WriteAllText(Annotations, root.ToJsonString());
    }

    [Fact]
    public void TheMiniSetReadsWithEveryScene()
    {
        var set = SceneSetReader.Read(MiniSet);
        Assert.Equal(4, set.Scenes.Count);
        Assert.All(set.Scenes, s => Assert.Equal(s.Caption, string.Join(' ', s.CaptionWords)));
        Assert.All(set.Scenes, s => Assert.All(Enumerable.Range(0, s.Objects.Count), k => Assert.Contains(true, s.Mask(k))));
        SceneEvaluator.CheckPrompts(set);
    }

    public static TheoryData<string, string> Breakages => new()
    {
        { "format", "format: 'pixelllm-synthetic-scenes/0' is not a supported schema" },
        { "no format", "format: missing" },
        { "rle", "scenes[0].objects[1].mask_rle: runs cover" },
        { "rle type", "scenes[0].objects[0].mask_rle[2]: expected an integer" },
        { "missing image", "scenes[2].image: image " },
        { "trace object", "scenes[1].trace_object[0]: 7 is not an object index" },
        { "trace length", "scenes[0].trace_object: 3 entries for" },
        { "referring object", "scenes[3].referring[0].object: -1 is not an object index" },
        { "box", "scenes[0].objects[0].box: expected [x0, y0, x1, y1]" },
        { "prompt", "prompts.trace is 'describe: ', but the engine's task uses 'A long image caption: '" },
        { "not json", "not valid JSON" },
        { "empty caption", "scenes[1].caption: expected text, got an empty string" },
        { "empty expression", "scenes[3].referring[0].text: expected text, got an empty string" },
    };

    [Theory]
    [MemberData(nameof(Breakages))]
    public void ABrokenSetIsOneLineNamingTheFileAndField(string what, string expected)
    {
        switch (what)
        {
            case "format": Edit(r => r["format"] = "pixelllm-synthetic-scenes/0"); break;
            case "no format": Edit(r => r.AsObject().Remove("format")); break;
            case "rle": Edit(r => r["scenes"]![0]!["objects"]![1]!["mask_rle"]!.AsArray().Add(5)); break;
            case "rle type": Edit(r => r["scenes"]![0]!["objects"]![0]!["mask_rle"]![2] = "x"); break;
            case "missing image": File.Delete(Path.Combine(dir, "scene_424244.png")); break;
            case "trace object": Edit(r => r["scenes"]![1]!["trace_object"]![0] = 7); break;
            case "trace length": Edit(r => r["scenes"]![0]!["trace_object"] = new JsonArray(0, 0, 0)); break;
            case "referring object": Edit(r => r["scenes"]![3]!["referring"]![0]!["object"] = -1); break;
            case "box": Edit(r => r["scenes"]![0]!["objects"]![0]!["box"] = new JsonArray(5, 5, 5, 9)); break;
            case "prompt": Edit(r => r["prompts"]!["trace"] = "describe: "); break;
            case "not json": File.WriteAllText(Annotations, "{\"format\": "); break;
            case "empty caption": Edit(r => r["scenes"]![1]!["caption"] = ""); break;
            case "empty expression": Edit(r => r["scenes"]![3]!["referring"]![0]!["text"] = " "); break;
        }
        var e = Assert.Throws<InvalidInputException>(() => SceneEvaluator.CheckPrompts(SceneSetReader.Read(dir)));
        Assert.StartsWith(Annotations + ": ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        // The command turns it into exit code 2 before loading a model (a model folder that does not exist is never reached).
        Assert.Equal(CliErrors.BadInput, CliErrors.Guard(() => EvalCommand.Run(new EvalArgs("all", dir, "/nonexistent/model", null, null), TextWriter.Null)));
    }

    [Fact]
    public void AMissingFolderOrAnnotationsFileIsNamed()
    {
        var missing = Path.Combine(dir, "nope");
        Assert.Contains($"{missing}: data folder not found", Assert.Throws<InvalidInputException>(() => SceneSetReader.Read(missing)).Message);
        File.Delete(Annotations);
        Assert.Contains($"{Annotations}: not found", Assert.Throws<InvalidInputException>(() => SceneSetReader.Read(dir)).Message);
        Assert.Equal(CliErrors.BadInput, CliErrors.Guard(() => EvalCommand.Run(new EvalArgs("all", missing, null, null, null), TextWriter.Null)));
    }

    [Theory]
    [InlineData("caption", "--task: unknown task 'caption'")]
    [InlineData("limit", "--limit must be at least 1")]
    public void BadOptionsExitWithTwo(string what, string expected)
    {
        var args = what == "caption" ? new EvalArgs("caption", MiniSet, null, null, null) : new EvalArgs("all", MiniSet, null, 0, null);
        Assert.Contains(expected, Assert.Throws<InvalidInputException>(() => EvalCommand.Run(args, TextWriter.Null)).Message);
        Assert.Equal(CliErrors.BadInput, CliErrors.Guard(() => EvalCommand.Run(args, TextWriter.Null)));
    }
}
