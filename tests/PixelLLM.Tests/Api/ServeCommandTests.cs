using System.Text.Json;
using System.Text.Json.Nodes;
using PixelLLM.Cli;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>
/// <c>pixelllm serve</c>: a ready line, then one line per request in order, each result the document the API (and the
/// request commands' --json) gives for the same request; a bad request is an error line naming the field, and the
/// server answers the next one.
/// </summary>
public class ServeCommandTests(RefsegModel refseg) : IClassFixture<RefsegModel>
{
    private static List<JsonElement> Serve(string directory, params string[] requests)
    {
        var output = new StringWriter();
        int code = ServeCommand.Run(new PixelLlmOptions { MaxConcurrentRequests = 1 }, directory, new StringReader(string.Join('\n', requests) + "\n"), output);
        Assert.Equal(0, code);
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    private static string Request(JsonObject fields) => fields.ToJsonString();

    private static string Results(JsonElement document) => JsonNode.Parse(document.GetProperty("results").GetRawText())!.ToJsonString();

    private static string Results(byte[] document) => JsonNode.Parse(document)!["results"]!.ToJsonString();

    [Fact]
    public void EveryTaskAnswersWhatTheApiGivesInRequestOrder()
    {
        var path = refseg.ImagePath;
        var image = PixelImage.Load(path);
        var lines = Serve(refseg.Directory,
            Request(new JsonObject { ["id"] = 1, ["task"] = "caption", ["image"] = path }),
            Request(new JsonObject { ["id"] = "two", ["task"] = "caption", ["image"] = path, ["boxes"] = new JsonArray(new JsonArray(3, 4, 60, 50), new JsonArray(10, 10, 90, 80)) }),
            "",
            Request(new JsonObject { ["id"] = 3, ["task"] = "refer", ["image_base64"] = Convert.ToBase64String(File.ReadAllBytes(path)), ["texts"] = new JsonArray("the white cat", "a green boat") }),
            Request(new JsonObject { ["id"] = 4, ["task"] = "segment", ["image"] = path, ["texts"] = new JsonArray("a green boat"), ["teacher_forced"] = true }),
            Request(new JsonObject { ["id"] = 5, ["task"] = "info" }));

        Assert.True(lines[0].GetProperty("ready").GetBoolean());
        Assert.Equal("pixelllm-serve/1", lines[0].GetProperty("schema").GetString());
        Assert.Equal(["caption", "refer", "segment", "info"], lines[0].GetProperty("tasks").EnumerateArray().Select(t => t.GetString()));
        var answers = lines.Skip(1).ToList();
        Assert.Equal(["1", "\"two\"", "3", "4", "5"], answers.Select(a => a.GetProperty("id").GetRawText()));
        Assert.All(answers, a => Assert.True(a.GetProperty("ok").GetBoolean(), a.GetRawText()));

        var model = refseg.Model;
        Assert.Equal(Results(model.Caption(image).ToJson()), Results(answers[0].GetProperty("result")));
        Assert.Equal(Results(ResultJson.Caption(model.Caption(image, [new Box(3, 4, 60, 50), new Box(10, 10, 90, 80)]), null)),
            Results(answers[1].GetProperty("result")));
        Assert.Equal(Results(ResultJson.Refer(model.Refer(image, ["the white cat", "a green boat"]), null)), Results(answers[2].GetProperty("result")));
        Assert.Equal("image_base64", answers[2].GetProperty("result").GetProperty("image").GetProperty("source").GetString());
        Assert.Equal(Results(model.Segment(image, "a green boat", decodeText: false).ToJson()), Results(answers[3].GetProperty("result")));
        Assert.Equal(model.Canvas, answers[4].GetProperty("result").GetProperty("canvas").GetInt32());
    }

    [Fact]
    public void BadRequestsAreErrorLinesNamingTheFieldAndTheServerGoesOn()
    {
        var path = refseg.ImagePath;
        var lines = Serve(refseg.Directory,
            "not json",
            "[1, 2]",
            """{"id": 7, "task": "caption", "image": "/no/such/image.png"}""",
            """{"id": 8, "task": "caption", "image": "x.png", "colour": "red"}""",
            """{"id": 9, "task": "refer", "image": "x.png"}""",
            $$"""{"id": 10, "task": "caption", "image": "{{path}}", "boxes": [[0, 0, 10]]}""",
            $$"""{"id": 11, "task": "caption", "image": "{{path}}", "boxes": [[0, 0, 5000, 10]]}""",
            $$"""{"id": 12, "task": "densecap", "image": "{{path}}"}""",
            """{"id": 13, "task": "caption", "image_base64": "***"}""",
            $$"""{"id": 14, "task": "caption", "image": "{{path}}", "beams": 0}""",
            $$"""{"id": 15, "task": "caption", "image": "{{path}}", "boxes": [[3, 4, 60, 50]]}""",
            """{"id": 16, "id": 17, "task": "info"}""");
        var answers = lines.Skip(1).ToList();
        Assert.Equal(12, answers.Count);
        Assert.Equal("request: key 'id' appears twice (give each key once)", answers[11].GetProperty("error").GetString());
        (string Kind, string Error) Failure(int i) => (answers[i].GetProperty("kind").GetString()!, answers[i].GetProperty("error").GetString()!);

        Assert.All(answers.Take(10), a => Assert.False(a.GetProperty("ok").GetBoolean()));
        Assert.Equal(JsonValueKind.Null, answers[0].GetProperty("id").ValueKind);
        Assert.StartsWith("request: not JSON", Failure(0).Error);
        Assert.Equal("request: expected a JSON object, got Array", Failure(1).Error);
        Assert.Equal(("invalid_input", "/no/such/image.png"), (Failure(2).Kind, Failure(2).Error.Split(':')[0]));
        Assert.StartsWith("request field 'colour': unknown", Failure(3).Error);
        Assert.Equal("request field 'texts': refer needs at least one expression", Failure(4).Error);
        Assert.StartsWith("request field 'boxes[0]': expected [x0, y0, x1, y1]", Failure(5).Error);
        Assert.Contains("outside the", Failure(6).Error);
        Assert.Contains("densecap", Failure(7).Error);                   // this model has no box decoder
        Assert.Equal("request field 'image_base64': not base64", Failure(8).Error);
        Assert.StartsWith("request field 'beams': expected an integer from 1 to", Failure(9).Error);
        Assert.Equal([7, 8, 9, 10, 11, 12, 13, 14], answers.Skip(2).Take(8).Select(a => a.GetProperty("id").GetInt32()));
        Assert.True(answers[10].GetProperty("ok").GetBoolean());                                 // and it still serves
        Assert.Equal(15, answers[10].GetProperty("id").GetInt32());
    }

    [Fact]
    public void ParallelRequestsAnswerInRequestOrderWithTheSequentialResults()
    {
        string[] requests = [.. Enumerable.Range(0, 6).Select(i => Request(new JsonObject
        {
            ["id"] = i, ["task"] = i % 2 == 0 ? "caption" : "refer", ["image"] = refseg.ImagePath,
            [i % 2 == 0 ? "boxes" : "texts"] = i % 2 == 0 ? new JsonArray(new JsonArray(3, 4, 40 + i, 50)) : new JsonArray("a green boat"),
        }))];
        static List<string> Answers(string directory, int parallel, string[] lines)
        {
            var output = new StringWriter();
            ServeCommand.Run(new PixelLlmOptions { MaxConcurrentRequests = parallel }, directory, new StringReader(string.Join('\n', lines)), output);
            return [.. output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => JsonNode.Parse(l)!.AsObject())
                .Select(o => { o.Remove("ms"); return o.ToJsonString(); })];
        }
        var sequential = Answers(refseg.Directory, 1, requests);
        Assert.Equal(Enumerable.Range(0, 6), sequential.Select(a => JsonNode.Parse(a)!["id"]!.GetValue<int>()));
        Assert.Equal(sequential, Answers(refseg.Directory, 3, requests));
    }

    /// <summary>A reader that hands out one request, then waits for its answer before it says stdin has ended.</summary>
    private sealed class WaitingReader(string request, Func<bool> answered) : TextReader
    {
        private int calls;

        public override string? ReadLine()
        {
            if (calls++ == 0) return request;
            Assert.True(SpinWait.SpinUntil(answered, TimeSpan.FromMinutes(1)), "the first answer was not written while the server waited for input");
            return null;
        }
    }

    [Fact]
    public void AnAnswerIsWrittenWhileTheServerWaitsForTheNextRequest()
    {
        var written = new StringWriter();
        var output = TextWriter.Synchronized(written);         // its methods lock the wrapper: so does the check
        bool Answered() { lock (output) return written.ToString().Contains("\"id\":\"first\"", StringComparison.Ordinal); }
        var request = Request(new JsonObject { ["id"] = "first", ["task"] = "info" });
        int code = ServeCommand.Run(new PixelLlmOptions { MaxConcurrentRequests = 2 }, refseg.Directory, new WaitingReader(request, Answered), output);
        Assert.Equal(0, code);
    }

    [Fact]
    public void AModelThatDoesNotLoadIsTheCommandsOneErrorLine()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"pixelllm-no-model-{Guid.NewGuid():N}");
        var (code, error) = CliInProcess.Run("serve", "--model", missing);
        Assert.Equal(2, code);
        Assert.Equal($"error: {missing}: model directory not found (expected a folder with config.json, weights and a tokenizer)", error.Trim());
    }

    /// <summary>A line longer than the limit is skipped without being held, answered with an error, and the next line served.</summary>
    [Fact]
    public void AnOverlongLineIsAnErrorLineAndTheNextRequestIsServed()
    {
        var caption = Request(new JsonObject { ["id"] = 2, ["task"] = "info" });
        var input = "{\"id\": 1, \"task\": \"caption\", \"image_base64\": \"" + new string('A', 300_000) + "\"}\r\n" + caption + "\r\n";
        var output = new StringWriter();
        Assert.Equal(0, ServeCommand.Run(new PixelLlmOptions { MaxConcurrentRequests = 1 }, refseg.Directory, new StringReader(input), output, maxLineChars: 1000));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        Assert.Equal(3, lines.Count);
        Assert.False(lines[1].GetProperty("ok").GetBoolean());
        Assert.Equal("resource_limit", lines[1].GetProperty("kind").GetString());
        Assert.Contains("longer than 1000 characters", lines[1].GetProperty("error").GetString());
        Assert.True(lines[2].GetProperty("ok").GetBoolean());
        Assert.Equal(2, lines[2].GetProperty("id").GetInt32());
    }

    [Theory]
    [InlineData("a\nbb\r\n\nccc", 10, new[] { "a", "bb", "", "ccc" }, new[] { false, false, false, false })]
    [InlineData("0123456789\n01234567890\nx", 10, new[] { "0123456789", "", "x" }, new[] { false, true, false })]
    [InlineData("", 10, new string[0], new bool[0])]
    public void BoundedLinesSplitAndSkipLikeReadLine(string text, int max, string[] expected, bool[] skipped)
    {
        var reader = new BoundedLineReader(new StringReader(text), max);
        var got = new List<(string, bool)>();
        for (string? line; (line = reader.ReadLine(out bool tooLong)) is not null;) got.Add((line, tooLong));
        Assert.Equal(expected.Zip(skipped).Select(p => (p.First, p.Second)), got);
    }

    [Fact]
    public void ALongLineAcrossManyBuffersIsSkippedWhole()
    {
        var text = new string('x', 200_000) + "\nnext\n";
        var reader = new BoundedLineReader(new StringReader(text), 100);
        Assert.Equal("", reader.ReadLine(out bool first));
        Assert.True(first);
        Assert.Equal("next", reader.ReadLine(out bool second));
        Assert.False(second);
        Assert.Null(reader.ReadLine(out _));
    }

    /// <summary>
    /// "stream": true writes the request's events as lines carrying its id while it runs, before its answer; the token
    /// events are the answer's tokens. Other requests get no events; where there is no channel for them it is refused.
    /// </summary>
    [Fact]
    public void AStreamingRequestWritesItsEventsBeforeItsAnswer()
    {
        var path = refseg.ImagePath;
        var lines = Serve(refseg.Directory,
            Request(new JsonObject { ["id"] = "s", ["task"] = "caption", ["image"] = path, ["beams"] = 1, ["stream"] = true }),
            Request(new JsonObject { ["id"] = 2, ["task"] = "caption", ["image"] = path, ["beams"] = 1 }),
            Request(new JsonObject { ["id"] = 3, ["task"] = "info", ["stream"] = true }),
            Request(new JsonObject { ["id"] = 4, ["task"] = "caption", ["image"] = path, ["stream"] = "yes" }));
        int answer = lines.FindIndex(l => l.TryGetProperty("ok", out _) && l.GetProperty("id").ValueKind == JsonValueKind.String);
        var events = lines.Take(answer).Skip(1).ToList();  // after the ready line
        Assert.All(events, e => Assert.Equal("s", e.GetProperty("id").GetString()));
        Assert.Equal("""{"id":"s","event":"stage","stage":"vision"}""", events[0].GetRawText());
        var tokens = events.Where(e => e.GetProperty("event").GetString() == "token").Select(e => e.GetProperty("token_id").GetInt32()).ToList();
        var answered = lines[answer].GetProperty("result").GetProperty("results")[0].GetProperty("tokens").EnumerateArray().Skip(1)
            .Select(t => t.GetProperty("id").GetInt32()).ToList();
        Assert.Equal(answered, tokens);
        Assert.True(lines[answer].GetProperty("ok").GetBoolean());

        var rest = lines.Skip(answer + 1).ToList();
        Assert.Equal(3, rest.Count);  // the three other answers, no event line among them
        Assert.Equal(Results(lines[answer].GetProperty("result")), Results(rest[0].GetProperty("result")));
        Assert.Contains("request field 'stream': info has no events", rest[1].GetProperty("error").GetString());
        Assert.Contains("request field 'stream': expected true or false", rest[2].GetProperty("error").GetString());
        Assert.Contains("request field 'stream': not through this call",
            refseg.Model.Answer(Request(new JsonObject { ["task"] = "caption", ["image"] = path, ["stream"] = true })));
    }
}
