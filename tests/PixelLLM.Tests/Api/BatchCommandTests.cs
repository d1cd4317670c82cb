using System.Text.Json;
using PixelLLM.Cli;

namespace PixelLLM.Tests.Api;

/// <summary>
/// Batches through the commands, in-process: <c>caption IMAGE IMAGE...</c> (a JSON array of the one-image documents, one-line
/// refusals with exit 2 and no file for what only one image takes) and <c>refer IMAGE TEXT TEXT...</c> (one document, a
/// result per expression).
/// </summary>
public sealed class BatchCommandTests : IClassFixture<TinyModel>, IDisposable
{
    private readonly TinyModel tiny;
    private readonly string outDir = Path.Combine(Path.GetTempPath(), $"pixelllm-cli-batch-{Guid.NewGuid():N}");

    public BatchCommandTests(TinyModel tiny)
    {
        this.tiny = tiny;
        Directory.CreateDirectory(outDir);
    }

    private static string Png(string caseName) => Path.Combine(TinyModel.GoldenDir, caseName + ".png");

    private string JsonPath => Path.Combine(outDir, "batch.json");

    private RequestArgs Args(string? overlay = null) => new(Png("caption_trace"), tiny.Directory, "cpu", JsonPath, overlay, null);

    [Fact]
    public void SeveralImagesWriteOneDocumentEachEqualToTheOneImageCommand()
    {
        string[] paths = [Png("caption_trace"), Png("loca_caption"), Png("referring")];
        var output = new StringWriter();
        Assert.Equal(0, CliErrors.Guard(() => CaptionCommand.RunImages(Args(), paths, withBoxes: false, output)));
        using var batch = JsonDocument.Parse(File.ReadAllBytes(JsonPath));
        var documents = batch.RootElement.EnumerateArray().ToList();
        Assert.Equal(paths.Length, documents.Count);
        for (int i = 0; i < paths.Length; i++)
        {
            var single = Path.Combine(outDir, $"single{i}.json");
            Assert.Equal(0, CliErrors.Guard(() => CaptionCommand.Run(new RequestArgs(paths[i], tiny.Directory, "cpu", single, null, null), [], new StringWriter())));
            using var alone = JsonDocument.Parse(File.ReadAllBytes(single));
            Assert.Equal(alone.RootElement.GetRawText(), documents[i].GetRawText());
            Assert.Contains($"{paths[i]}: {alone.RootElement.GetProperty("results")[0].GetProperty("text").GetString()}", output.ToString());
        }
    }

    [Fact]
    public void WhatOnlyOneImageTakesIsRefusedBeforeAnyWork()
    {
        string[] paths = [Png("caption_trace"), Png("loca_caption")];
        var overlay = Path.Combine(outDir, "overlay.png");
        Assert.Equal(2, CliErrors.Guard(() => CaptionCommand.RunImages(Args(overlay), paths, withBoxes: false, new StringWriter())));
        Assert.Equal(2, CliErrors.Guard(() => CaptionCommand.RunImages(Args(), paths, withBoxes: true, new StringWriter())));
        Assert.Equal(2, CliErrors.Guard(() => CaptionCommand.RunImages(Args(), [paths[0], Path.Combine(outDir, "missing.png")], withBoxes: false, new StringWriter())));
        Assert.Empty(Directory.GetFiles(outDir));
    }

    [Fact]
    public void SeveralExpressionsGiveOneDocumentWithAResultEach()
    {
        string[] texts = ["the red ball on the left", "a small dog"];
        var output = new StringWriter();
        var overlay = Path.Combine(outDir, "refer.png");
        var args = new RequestArgs(Png("referring"), tiny.Directory, "cpu", JsonPath, overlay, null);
        Assert.Equal(0, CliErrors.Guard(() => ReferCommand.Run(args, texts, false, output)));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(JsonPath));
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(texts, results.Select(r => r.GetProperty("expression").GetString()));
        var printed = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(texts.Select(t => t + ": ["), printed.Select(l => l[..(l.IndexOf(": [", StringComparison.Ordinal) + 3)]));
        Assert.True(File.Exists(overlay));
    }

    public void Dispose()
    {
        try { Directory.Delete(outDir, recursive: true); } catch (IOException) { }
    }
}
