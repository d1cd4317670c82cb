using System.Runtime.InteropServices;
using System.Text;
using PixelLLM.CApi;

namespace PixelLLM.Tests.Api;

/// <summary>
/// libpixelllm's entry points called as C calls them, through unmanaged function pointers, in this process (the compiled
/// library itself, with its C and Python samples, is checked by tests/capi/check.sh in CI).
/// </summary>
public sealed unsafe class CLibraryTests(TinyModel tiny) : IClassFixture<TinyModel>
{
    private static readonly delegate* unmanaged<byte*, byte*, byte**, nint> Open = &NativeExports.Open;
    private static readonly delegate* unmanaged<nint, byte*, byte*> Request = &NativeExports.Request;
    private static readonly delegate* unmanaged<nint, int> Close = &NativeExports.Close;
    private static readonly delegate* unmanaged<byte*, void> Free = &NativeExports.Free;
    private static readonly delegate* unmanaged<byte*> Version = &NativeExports.Version;
    private static readonly delegate* unmanaged<nint, byte*, delegate* unmanaged<byte*, nint, int>, nint, byte*> RequestEvents = &NativeExports.RequestEvents;
    private static readonly delegate* unmanaged<nint, byte*, byte*, int, int, int, delegate* unmanaged<byte*, nint, int>, nint, byte*> RequestRgb = &NativeExports.RequestRgb;

    private static string Png => Path.Combine(TinyModel.GoldenDir, "caption_trace.png");

    /// <summary>A greedy caption request of the golden image, as a JSON line with <paramref name="id"/> (JSON text).</summary>
    private static string GreedyCaption(string id) => $$"""{"id": {{id}}, "task": "caption", "image": "{{PngInJson}}", "beams": 1}""";

    private static string PngInJson => Png.Replace("\\", "\\\\");

    private static string NoMs(string line) => System.Text.RegularExpressions.Regex.Replace(line, "\"ms\":[0-9.]+,", "");

    private static (nint Model, string? Error) OpenModel(string? directory, string? options)
    {
        var dir = directory is null ? null : Utf8(directory);
        var opts = options is null ? null : Utf8(options);
        byte* error = (byte*)1;  // must be reset by the call
        fixed (byte* d = dir, o = opts)
        {
            var model = Open(d, o, &error);
            return (model, Take(error));
        }
    }

    private static string Ask(nint model, string request)
    {
        fixed (byte* r = Utf8(request)) return Take(Request(model, r))!;
    }

    private static byte[] Utf8(string text) => [.. Encoding.UTF8.GetBytes(text), 0];

    private static string? Take(byte* text)
    {
        if (text == null) return null;
        try { return Marshal.PtrToStringUTF8((nint)text); }
        finally { Free(text); }
    }

    [Fact]
    public void AnOpenModelAnswersAsServeDoesAndACloseEndsIt()
    {
        var (model, error) = OpenModel(tiny.Directory, """{"backend": "cpu", "threads": 1, "parallel": 2}""");
        Assert.Null(error);
        Assert.NotEqual(0, model);
        var request = GreedyCaption("""[1, "x"]""");
        string answer = Ask(model, request);
        Assert.StartsWith("""{"id":[1,"x"],"ok":true,""", answer);
        Assert.Equal(NoMs(tiny.Model.Answer(request)), NoMs(answer));

        Assert.Equal(0, Close(model));
        Assert.Equal(-1, Close(model));
        Assert.Contains("\"kind\":\"invalid_input\"", Ask(model, request));
        Assert.Contains("not an open pixelllm_model", Ask(model, request));
    }

    [Fact]
    public void RequestsFromManyThreadsGetTheirOwnAnswers()
    {
        var (model, _) = OpenModel(tiny.Directory, """{"parallel": 3}""");
        try
        {
            var boxes = new[] { "[1, 1, 60, 60]", "[10, 20, 90, 80]", "[0, 0, 40, 86]", "[30, 30, 110, 70]" };
            string Line(int i) => $$"""{"id": {{i}}, "task": "caption", "image": "{{PngInJson}}", "boxes": [{{boxes[i % 4]}}]}""";
            var sequential = Enumerable.Range(0, 8).Select(i => Ask(model, Line(i))).ToArray();
            var parallel = new string[8];
            Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = Ask(model, Line(i)));
            for (int i = 0; i < 8; i++)
            {
                Assert.StartsWith($$"""{"id":{{i}},"ok":true""", parallel[i]);
                Assert.Equal(Result(sequential[i]), Result(parallel[i]));
            }
        }
        finally { Close(model); }
        static string Result(string line) => line[line.IndexOf("\"result\"", StringComparison.Ordinal)..];
    }

    [Theory]
    [InlineData(null, "model_dir: missing")]
    [InlineData("", "model_dir: missing")]
    [InlineData("/nonexistent/pixelllm-model", "/nonexistent/pixelllm-model: model directory not found")]
    public void AModelThatCannotOpenIsNullAndOneLine(string? directory, string expected)
    {
        var (model, error) = OpenModel(directory, null);
        Assert.Equal(0, model);
        Assert.StartsWith(expected, error);
        Assert.DoesNotContain('\n', error!);
    }

    [Theory]
    [InlineData("""{"backend": "tpu"}""", "options_json.backend: unknown backend 'tpu' (expected cpu, cpu-f64 or cuda)")]
    [InlineData("""{"precision": "int8"}""", "options_json.precision: unknown precision 'int8'")]
    [InlineData("""{"threads": -1}""", "options_json.threads: expected an integer from 0 to 1024, got -1")]
    [InlineData("""{"parallel": 2.5}""", "options_json.parallel: expected an integer from 1 to 64, got 2.5")]
    [InlineData("""{"max_image_pixels": "many"}""", "options_json.max_image_pixels: expected an integer")]
    [InlineData("""{"backend": 3}""", "options_json.backend: expected a string, got 3")]
    [InlineData("""{"thread": 1}""", "options_json: unknown key 'thread' (expected backend, precision, threads, parallel, max_image_pixels)")]
    [InlineData("""{"threads": 1, "threads": 2}""", "options_json: not a JSON object without repeated keys")]
    [InlineData("""[1]""", "options_json: expected a JSON object, got Array")]
    [InlineData("""{"precision": "f16"}""", "precision f16 runs on the CUDA backend only")]
    public void BadOptionsAreOneLineNamingTheKey(string options, string expected)
    {
        var (model, error) = OpenModel(tiny.Directory, options);
        Assert.Equal(0, model);
        Assert.StartsWith(expected, error);
    }

    [Fact]
    public void BadRequestsAreAnswersNotCrashes()
    {
        var (model, _) = OpenModel(tiny.Directory, "");
        try
        {
            Assert.Contains("request field 'task': unknown 'x'", Ask(model, """{"task": "x"}"""));
            Assert.Contains("\"kind\":\"invalid_input\",\"error\":\"request: not JSON", Ask(model, "{"));
            Assert.Contains("request_json: missing (NULL)", Take(Request(model, null)));
            byte[] notUtf8 = [0x7b, 0xff, 0xfe, 0x7d, 0];
            fixed (byte* r = notUtf8) Assert.Contains("request_json: not UTF-8 text", Take(Request(model, r)));
            Assert.Contains("not an open pixelllm_model", Ask(0, """{"task": "info"}"""));
            Assert.Contains("not an open pixelllm_model", Ask(unchecked((nint)0xdeadbeef), """{"task": "info"}"""));
        }
        finally { Close(model); }
        Assert.Equal(-1, Close(0));
    }

    [Fact]
    public void TheVersionNamesTheLibraryAndTheProtocol()
    {
        var version = Marshal.PtrToStringUTF8((nint)Version())!;
        Assert.Matches(@"^libpixelllm \d+\.\d+\.\d+ \(pixelllm-serve/1\)$", version);
        Assert.Equal((nint)Version(), (nint)Version());
        Free(null);
    }

    private sealed class EventSink(int? cancelAfterTokens)
    {
        public readonly List<string> Events = [];
        public int Tokens;
        public readonly int? CancelAfterTokens = cancelAfterTokens;
    }

    [UnmanagedCallersOnly]
    private static int Collect(byte* json, nint user)
    {
        var sink = (EventSink)GCHandle.FromIntPtr(user).Target!;
        var line = Marshal.PtrToStringUTF8((nint)json)!;
        sink.Events.Add(line);
        if (line.Contains("\"event\":\"token\"", StringComparison.Ordinal)) sink.Tokens++;
        return sink.Tokens >= sink.CancelAfterTokens ? 1 : 0;
    }

    private static (string Answer, EventSink Sink) AskWithEvents(nint model, string request, int? cancelAfterTokens)
    {
        var sink = new EventSink(cancelAfterTokens);
        var handle = GCHandle.Alloc(sink);
        try
        {
            fixed (byte* r = Utf8(request))
                return (Take(RequestEvents(model, r, &Collect, GCHandle.ToIntPtr(handle)))!, sink);
        }
        finally { handle.Free(); }
    }

    [Fact]
    public void EventsReportTheStagesAndEveryTokenOfTheAnswer()
    {
        var (model, _) = OpenModel(tiny.Directory, null);
        try
        {
            var request = GreedyCaption("5");
            var (answer, sink) = AskWithEvents(model, request, null);
            var result = System.Text.Json.Nodes.JsonNode.Parse(answer)!["result"]!["results"]![0]!;
            Assert.StartsWith("""{"event":"stage","stage":"vision"}""", sink.Events[0]);
            var tokens = sink.Events.Where(e => e.Contains("\"token\"", StringComparison.Ordinal))
                .Select(e => System.Text.Json.Nodes.JsonNode.Parse(e)!).ToList();
            var answered = result["tokens"]!.AsArray().Skip(1).ToList();  // the answer's tokens start at BOS
            Assert.Equal(answered.Select(t => (int)t!["id"]!), tokens.Select(t => (int)t["token_id"]!));
            Assert.Equal(Enumerable.Range(1, tokens.Count), tokens.Select(t => (int)t["position"]!));
            Assert.Equal((string)result["text"]!, string.Concat(tokens.Select(t => (string)t["piece"]!)).Trim());
            Assert.Contains(sink.Events, e => e == """{"event":"stage","stage":"points"}""");
            Assert.Equal(NoMs(Ask(model, request)), NoMs(answer));
        }
        finally { Close(model); }
    }

    [Fact]
    public void AnEventCallbackThatReturnsNonZeroCancelsTheRequest()
    {
        var (model, _) = OpenModel(tiny.Directory, null);
        try
        {
            var request = GreedyCaption("6");
            var (full, all) = AskWithEvents(model, request, null);
            Assert.True(all.Tokens > 2, full);
            var (answer, sink) = AskWithEvents(model, request, cancelAfterTokens: 2);
            Assert.Equal("""{"id":6,"ok":false,"kind":"cancelled","error":"request cancelled by its caller"}""", answer);
            Assert.Equal(2, sink.Tokens);
            Assert.StartsWith("""{"id":6,"ok":true""", Ask(model, request));
        }
        finally { Close(model); }
    }

    private static string AskRgb(nint model, string request, byte[]? rgb, int width, int height, int stride)
    {
        fixed (byte* r = Utf8(request), p = rgb) return Take(RequestRgb(model, r, p, width, height, stride, null, 0))!;
    }

    /// <summary>Decoded pixels, packed or with padded rows, answer as the file they came from.</summary>
    [Fact]
    public void PixelsPassedDecodedAnswerAsTheirFile()
    {
        var (model, _) = OpenModel(tiny.Directory, null);
        try
        {
            var image = PixelImage.Load(Png);
            int w = image.Width, h = image.Height, stride = 3 * w + 7;
            var padded = new byte[stride * h];
            for (int y = 0; y < h; y++) image.Rgb.Slice(3 * w * y, 3 * w).CopyTo(padded.AsSpan(stride * y));
            const string caption = """{"id": 8, "task": "caption", "boxes": [[5, 6, 70, 80]]}""";
            static string Result(string line) => line[line.IndexOf("\"results\"", StringComparison.Ordinal)..];
            var fromFile = Ask(model, caption.Replace("\"boxes\"", $"\"image\": \"{PngInJson}\", \"boxes\"", StringComparison.Ordinal));
            Assert.StartsWith("""{"id":8,"ok":true""", fromFile);
            var packed = AskRgb(model, caption, image.Rgb.ToArray(), w, h, 0);
            Assert.Contains($$"""
                "image":{"source":"rgb","width":{{w}},"height":{{h}}}
                """.Trim(), packed);
            Assert.Equal(Result(fromFile), Result(packed));
            Assert.Equal(Result(fromFile), Result(AskRgb(model, caption, padded, w, h, stride)));
        }
        finally { Close(model); }
    }

    [Fact]
    public void BadPixelsAreAnswersNamingWhatIsWrong()
    {
        var (model, _) = OpenModel(tiny.Directory, """{"max_image_pixels": 10000}""");
        try
        {
            var rgb = new byte[3 * 90 * 90];
            const string caption = """{"task": "caption"}""";
            Assert.Contains("rgb: missing (NULL)", AskRgb(model, caption, null, 90, 90, 0));
            Assert.Contains("rgb: image size 0×90 must be positive", AskRgb(model, caption, rgb, 0, 90, 0));
            Assert.Contains("rgb: stride_bytes 200 is less than a row of 90 RGB pixels (270 bytes)", AskRgb(model, caption, rgb, 90, 90, 200));
            Assert.Contains("rgb: 101×100 = 10100 pixels is above the limit of 10000", AskRgb(model, caption, rgb, 101, 100, 0));
            Assert.Contains("request field 'image': the image is the pixels passed with the request",
                AskRgb(model, """{"task": "caption", "image": "x.png"}""", rgb, 90, 90, 0));
            Assert.Contains("request field 'task': unknown 'x'", AskRgb(model, """{"task": "x"}""", null, 0, 0, 0));
            Assert.StartsWith("""{"id":null,"ok":true""", AskRgb(model, caption, rgb, 90, 90, 0));
        }
        finally { Close(model); }
    }
}
