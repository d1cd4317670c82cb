using PixelLLM.Runtime;

namespace PixelLLM.Tests.Api;

/// <summary>
/// Request semantics of the public API on the tiny golden model: shapes and valid masks per task, boxes from points,
/// determinism down to the JSON bytes, batch == singles, concurrency == sequential, streaming, bad input.
/// </summary>
public class ApiBehaviourTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    private PixelLlmModel Model => tiny.Model;

    [Fact]
    public void CaptionTokensHaveTwoPointsAndTraceValidityMarksExactlyTheWords()
    {
        var result = Model.Caption(TinyModel.Image("caption_trace"));
        Assert.True(result.Tokens.Count >= 2 && result.Tokens.Count <= Model.MaxCaptionLength);
        Assert.False(result.Tokens[0].IsWord);
        Assert.Equal(1, result.Tokens[^1].Id);
        foreach (var t in result.Tokens)
        {
            Assert.Equal(2, t.Points.Count);
            Assert.Equal(t.IsWord, t.Valid); // "begin,end,pad": every word, never BOS or EOS
            Assert.Equal(new Box(t.Points.Min(p => p.X), t.Points.Min(p => p.Y), t.Points.Max(p => p.X), t.Points.Max(p => p.Y)), t.Box);
        }
        Assert.Equal(result.Text, string.Concat(result.Tokens.Select(t => t.Piece)));
        // The caption-level box is min/max over the valid positions' points only.
        var valid = result.Tokens.Where(t => t.Valid).SelectMany(t => t.Points).ToList();
        Assert.Equal(new Box(valid.Min(p => p.X), valid.Min(p => p.Y), valid.Max(p => p.X), valid.Max(p => p.Y)), result.TraceBox);
    }

    [Fact]
    public void ReferValidatesOnlyThePositionBeforeEosAndReadsTheBoxThere()
    {
        var result = Model.Refer(TinyModel.Image("referring"), "a small dog");
        var valid = Assert.Single(result.Tokens, t => t.Valid);
        Assert.Equal(result.Tokens.Count - 2, valid.Position); // the last word: its next token is EOS
        Assert.Equal(valid.Box, result.Box);
    }

    [Fact]
    public void SameInputGivesIdenticalResultsAndJsonBytes()
    {
        var image = TinyModel.Image("caption_trace");
        var a = Model.Caption(image);
        var b = Model.Caption(TinyModel.Image("caption_trace"));
        Assert.Equal(a.ToJson(), b.ToJson());
        Assert.Equal(a.Tokens.SelectMany(t => t.Points), b.Tokens.SelectMany(t => t.Points));
        var r1 = Model.Refer(image, "the red ball on the left", decodeText: true);
        var r2 = Model.Refer(image, "the red ball on the left", decodeText: true);
        Assert.Equal(r1.ToJson(), r2.ToJson());
    }

    /// <summary>Bit for bit: the CPU backend picks each GEMM's algorithm by the rows of one prompt, not of the batch.</summary>
    [Fact]
    public void BoxesInOneBatchEqualSingleCalls()
    {
        var image = TinyModel.Image("loca_caption");
        Box[] boxes = [new(38.18f, 45.33f, 64.86f, 93.16f), new(35.56f, 77.19f, 48.62f, 113.57f), new(6.2f, 9.55f, 25.88f, 42.37f), new(0, 0, 70, 120)];
        var batch = Model.Caption(image, boxes);
        for (int i = 0; i < boxes.Length; i++)
        {
            var single = Model.Caption(image, boxes[i]);
            Assert.Equal(single.Text, batch[i].Text);
            Assert.Equal(single.Tokens.Select(t => t.Id), batch[i].Tokens.Select(t => t.Id));
            Assert.Equal(single.Tokens.Select(t => t.Valid), batch[i].Tokens.Select(t => t.Valid));
            Assert.Equal(single.Score, batch[i].Score);
            Assert.Equal(single.Tokens.SelectMany(t => t.Points), batch[i].Tokens.SelectMany(t => t.Points));
            Assert.Equal(single.ToJson(), batch[i].ToJson());
        }
    }

    [Fact]
    public void ConcurrentRequestsGiveExactlyTheSequentialResults()
    {
        var caption = TinyModel.Image("caption_trace");
        var refer = TinyModel.Image("referring");
        Func<byte[]>[] requests =
        [
            () => Model.Caption(caption).ToJson(),
            () => Model.Refer(refer, "the red ball on the left").ToJson(),
            () => Model.Caption(refer, new Box(10, 10, 60, 50)).ToJson(),
            () => Model.Refer(caption, "a small dog", decodeText: true).ToJson(),
        ];
        var sequential = requests.Select(r => r()).ToArray();
        const int rounds = 3;
        var parallel = new byte[requests.Length * rounds][];
        var threads = Enumerable.Range(0, parallel.Length).Select(i => new Thread(() => parallel[i] = requests[i % requests.Length]())).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        for (int i = 0; i < parallel.Length; i++) Assert.Equal(sequential[i % requests.Length], parallel[i]);
    }

    [Fact]
    public async Task StreamingReportsStagesThenTokensThenTheResult()
    {
        var image = TinyModel.Image("loca_caption");
        var box = new Box(38.18f, 45.33f, 64.86f, 93.16f);
        var events = new List<PixelLlmEvent>();
        await foreach (var e in Model.CaptionStreamAsync(image, box)) events.Add(e);

        Assert.Equal(["vision", "prompts", "decode", "points"], events.OfType<StageStarted>().Select(s => s.Stage));
        var ready = Assert.IsType<CaptionReady>(events[^1]);
        Assert.Equal(Model.Caption(image, box).ToJson(), ready.Result.ToJson());
        var tokens = events.OfType<TokenDecoded>().ToList();
        Assert.Equal(ready.Result.Tokens.Skip(1).Select(t => (t.Position, t.Id, t.Piece)), tokens.Select(t => (t.Position, t.Id, t.Piece)));
        // Greedy tokens arrive while decoding: before the "points" stage starts.
        Assert.True(events.IndexOf(tokens[0]) < events.FindIndex(e => e is StageStarted { Stage: "points" }));
    }

    [Fact]
    public async Task CancellationStopsARequest()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in Model.ReferStreamAsync(TinyModel.Image("referring"), "a small dog", cancellation: cancel.Token)) { }
        });
    }

    [Theory]
    [InlineData(-1, 0, 50, 50, "outside")]
    [InlineData(0, 0, 500, 50, "outside")]
    [InlineData(10, 10, 10, 50, "degenerate")]
    [InlineData(30, 10, 20, 50, "degenerate")]
    [InlineData(0, 0, float.NaN, 50, "finite")]
    public void BadBoxesAreRefusedWithOneLine(float x0, float y0, float x1, float y1, string expected)
    {
        var e = Assert.Throws<InvalidInputException>(() => Model.Caption(TinyModel.Image("referring"), new Box(x0, y0, x1, y1)));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void BadTextIsRefused()
    {
        var image = TinyModel.Image("referring");
        Assert.Contains("empty", Assert.Throws<InvalidInputException>(() => Model.Refer(image, "  ")).Message);
        Assert.Contains("too long", Assert.Throws<InvalidInputException>(() => Model.Refer(image, "the red ball on the left of the blue dog")).Message);
        Assert.Throws<InvalidInputException>(() => Model.Refer(image, new string('a', PixelLlmModel.MaxTextLength + 1)));
        Assert.Throws<InvalidInputException>(() => Model.Caption(image, Array.Empty<Box>()));
    }

    [Fact]
    public void OutputCoordinatesAreInOriginalPixelsOfAResizedImage()
    {
        // The referring image doubled in size: the model sees the same eval-size pixels (up to bilinear rounding at the
        // edges), and every coordinate comes back doubled.
        var small = TinyModel.Image("referring");
        var large = PixelImage.FromRgb(Upscale2(small), small.Width * 2, small.Height * 2);
        var a = Model.Refer(small, "a small dog");
        var b = Model.Refer(large, "a small dog");
        Assert.Equal(a.Tokens.Select(t => t.Id), b.Tokens.Select(t => t.Id));
        Assert.NotNull(a.Box);
        Assert.Equal(a.Box!.Value.X0 * 2, b.Box!.Value.X0, 1f);
        Assert.Equal(a.Box.Value.Y1 * 2, b.Box.Value.Y1, 1f);
    }

    private static byte[] Upscale2(PixelImage image)
    {
        int w = image.Width, h = image.Height;
        var result = new byte[w * h * 12];
        for (int y = 0; y < 2 * h; y++)
            for (int x = 0; x < 2 * w; x++)
                for (int c = 0; c < 3; c++) result[(y * 2 * w + x) * 3 + c] = image.Rgb[((y / 2) * w + x / 2) * 3 + c];
        return result;
    }

    [Fact]
    public void LoadingRefusesBadModelDirectories()
    {
        Assert.Contains("not found", Assert.Throws<ModelFileException>(() => PixelLlmModel.Load("/nonexistent/model")).Message);
        var dir = TinyModel.Create(Path.Combine(Path.GetTempPath(), $"pixelllm-bad-{Guid.NewGuid():N}"));
        try
        {
            File.Delete(Path.Combine(dir, "spiece.model"));
            Assert.Contains("tokenizer", Assert.Throws<ModelFileException>(() => PixelLlmModel.Load(dir)).Message);
            TinyModel.Create(dir);
            // A config that disagrees with the weights: the weights' shapes are listed as problems.
            var config = File.ReadAllText(Path.Combine(dir, "config.json")).Replace("\"emb_dim\":32", "\"emb_dim\":48");
            File.WriteAllText(Path.Combine(dir, "config.json"), config);
            var e = Assert.Throws<ModelFileException>(() => PixelLlmModel.Load(dir));
            Assert.Contains("do not fit", e.Message);
            File.WriteAllText(Path.Combine(dir, "config.json"), "{not json");
            Assert.Contains("not valid JSON", Assert.Throws<ModelFileException>(() => PixelLlmModel.Load(dir)).Message);
            // Without a GPU the backend fails first; with one, the broken config does.
            var cuda = Record.Exception(() => PixelLlmModel.Load(dir, new PixelLlmOptions { Backend = ComputeBackend.Cuda }));
            Assert.True(cuda is BackendException or ModelFileException, cuda?.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>
/// Options that change how, not what: the reference's full decoder rerun, the KV-cache decoder (the default) and a one-core
/// scheduler give the same tokens and points.
/// </summary>
public class ApiOptionsTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FullRerunOrKvCacheOnOneThreadReproduceTheDefaultRun(bool fullRerun)
    {
        using var other = PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions
            { KvCacheDecoding = !fullRerun, FullRerunDecoding = fullRerun, Threads = 1, MaxConcurrentRequests = 1 });
        var image = TinyModel.Image("caption_trace");
        var expected = new[] { tiny.Model.Caption(image).Tokens, tiny.Model.Refer(image, "a small dog", decodeText: true).Tokens };
        var actual = new[] { other.Caption(image).Tokens, other.Refer(image, "a small dog", decodeText: true).Tokens };
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Select(t => t.Id), actual[i].Select(t => t.Id));
            foreach (var (e, a) in expected[i].SelectMany(t => t.Points).Zip(actual[i].SelectMany(t => t.Points)))
                Assert.True(Math.Abs(e.X - a.X) < 1e-3 && Math.Abs(e.Y - a.Y) < 1e-3, $"{e} vs {a}");
        }
        Assert.Throws<InvalidInputException>(() => PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { Threads = -1 }));
        Assert.Throws<InvalidInputException>(() => PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { MaxConcurrentRequests = 0 }));
        Assert.Throws<InvalidInputException>(() => PixelLlmModel.Load(tiny.Directory, new PixelLlmOptions { KvCacheDecoding = true, FullRerunDecoding = true }));
    }
}
