using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using PixelLLM.Cli;
using PixelLLM.Runtime;

namespace PixelLLM.Tests.Api;

/// <summary>
/// <c>pixelllm serve --http</c>: the JSON-line server's requests and answers over HTTP, with statuses by failure kind, on
/// both loopback names, stopping when cancelled.
/// </summary>
public class ServeHttpTests(RefsegModel refseg) : IClassFixture<RefsegModel>
{
    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    [Fact]
    public async Task RequestsOverHttpAnswerAsTheLineServerDoesWithStatusesByKind()
    {
        int port = FreePort();
        using var stop = new CancellationTokenSource();
        var log = new StringWriter();
        var server = Task.Run(() => ServeHttp.Run(refseg.Model, $"127.0.0.1:{port}", TextWriter.Synchronized(log), stop.Token));
        using var client = new HttpClient { BaseAddress = new Uri($"http://localhost:{port}/"), Timeout = TimeSpan.FromMinutes(2) };
        HttpResponseMessage? info = null;
        for (int attempt = 0; attempt < 100 && info is null; attempt++)
        {
            try { info = await client.GetAsync("v1/info"); }
            catch (HttpRequestException) { await Task.Delay(100); }
        }
        Assert.NotNull(info);
        Assert.Equal(HttpStatusCode.OK, info!.StatusCode);
        Assert.Equal(refseg.Model.Canvas, JsonNode.Parse(await info.Content.ReadAsStringAsync())!["result"]!["canvas"]!.GetValue<int>());

        var request = new JsonObject { ["id"] = 7, ["task"] = "refer", ["image"] = refseg.ImagePath, ["texts"] = new JsonArray("a green boat") }.ToJsonString();
        var ok = await client.PostAsync("v1/requests", new StringContent(request, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var answer = JsonNode.Parse(await ok.Content.ReadAsStringAsync())!.AsObject();
        var line = JsonNode.Parse(refseg.Model.Answer(request))!.AsObject();
        answer.Remove("ms");
        line.Remove("ms");
        Assert.Equal(line.ToJsonString(), answer.ToJsonString());

        var bad = await client.PostAsync("v1/requests", new StringContent("""{"id": 8, "task": "refer"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("invalid_input", JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["kind"]!.GetValue<string>());
        // Bytes that are not UTF-8 are a bad request, not text with replacement characters in it.
        var binary = await client.PostAsync("v1/requests", new ByteArrayContent([(byte)'{', 0xFF, 0xFE, (byte)'}']));
        Assert.Equal(HttpStatusCode.BadRequest, binary.StatusCode);
        Assert.Equal("request body: not UTF-8 text", JsonNode.Parse(await binary.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("v2/whatever")).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await client.DeleteAsync("v1/requests")).StatusCode);

        stop.Cancel();
        Assert.Equal(0, await server.WaitAsync(TimeSpan.FromMinutes(1)));
        Assert.Contains($"\"listening\":\"http://127.0.0.1:{port}/\"", log.ToString());
    }

    [Theory]
    [InlineData("127.0.0.1:8080", "http://127.0.0.1:8080/|http://localhost:8080/")]
    [InlineData("localhost:9", "http://127.0.0.1:9/|http://localhost:9/")]
    [InlineData("10.1.2.3:80", "http://10.1.2.3:80/")]
    public void LoopbackAddressesListenUnderBothNames(string address, string prefixes) =>
        Assert.Equal(prefixes.Split('|'), ServeHttp.Prefixes(address));

    [Theory]
    [InlineData("8080")]
    [InlineData("host:")]
    [InlineData("host:70000")]
    public void AnAddressWithoutAPortIsRefusedNamingTheOption(string address)
    {
        var e = Assert.Throws<InvalidInputException>(() => ServeHttp.Prefixes(address));
        Assert.Equal($"--http {address}: expected HOST:PORT (e.g. 127.0.0.1:8080)", e.Message);
    }

    [Fact]
    public void StatusesFollowTheFailureKind() =>
        Assert.Equal([200, 400, 413, 422, 503, 500, 500],
            new string?[] { null, "invalid_input", "resource_limit", "model", "out_of_memory", "backend", "internal" }.Select(ServeHttp.Status));

    /// <summary>"stream": true over HTTP: an NDJSON body of the request's event lines, then its answer line.</summary>
    [Fact]
    public async Task AStreamingRequestOverHttpSendsItsEventsThenItsAnswer()
    {
        int port = FreePort();
        using var stop = new CancellationTokenSource();
        var server = Task.Run(() => ServeHttp.Run(refseg.Model, $"127.0.0.1:{port}", TextWriter.Null, stop.Token));
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromMinutes(2) };
        var request = new JsonObject { ["id"] = "h", ["task"] = "caption", ["image"] = refseg.ImagePath, ["beams"] = 1, ["stream"] = true }.ToJsonString();
        HttpResponseMessage? streamed = null;
        for (int attempt = 0; attempt < 100 && streamed is null; attempt++)
        {
            try { streamed = await client.PostAsync("v1/requests", new StringContent(request, Encoding.UTF8, "application/json")); }
            catch (HttpRequestException) { await Task.Delay(100); }
        }
        Assert.Equal(HttpStatusCode.OK, streamed!.StatusCode);
        Assert.Equal("application/x-ndjson", streamed.Content.Headers.ContentType!.MediaType);
        var lines = (await streamed.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.All(lines, l => Assert.Equal("h", l["id"]!.GetValue<string>()));
        Assert.Equal("vision", lines[0]["stage"]!.GetValue<string>());
        var answer = lines[^1];
        Assert.True(answer["ok"]!.GetValue<bool>());
        var tokens = lines.Where(l => l["event"]?.GetValue<string>() == "token").Select(l => l["token_id"]!.GetValue<int>());
        var answered = answer["result"]!["results"]![0]!["tokens"]!.AsArray().Skip(1).Select(t => t!["id"]!.GetValue<int>());
        Assert.Equal(answered, tokens);

        // A streaming request that fails before its first event is answered as any other: one line, its status.
        var bad = await client.PostAsync("v1/requests", new StringContent("""{"task": "caption", "image": "/nonexistent.png", "stream": true}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Single((await bad.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries));

        stop.Cancel();
        Assert.Equal(0, await server.WaitAsync(TimeSpan.FromMinutes(1)));
    }
    /// <summary>A client that leaves a streamed body cancels its request: nothing more is sent, the request stops.</summary>
    [Fact]
    public void AStreamedRequestWhoseClientLeftIsCancelled()
    {
        var request = new JsonObject { ["id"] = "gone", ["task"] = "caption", ["image"] = refseg.ImagePath, ["beams"] = 1, ["stream"] = true }.ToJsonString();
        var sent = new List<string>();
        using var events = new ServeHttp.EventBody(line =>
        {
            if (sent.Count == 1) throw new IOException("connection reset by peer");
            sent.Add(line);
        });
        var (_, line) = ServeHttp.Answer(refseg.Model, request, events);
        Assert.True(events.ClientLeft.IsCancellationRequested);
        Assert.Equal("cancelled", JsonNode.Parse(line)!["kind"]!.GetValue<string>());
        Assert.Single(sent);
        events.Write(line);
        Assert.Single(sent);

        // Its client staying, the same request runs to its answer.
        var all = new List<string>();
        using var kept = new ServeHttp.EventBody(all.Add);
        var (status, answer) = ServeHttp.Answer(refseg.Model, request, kept);
        Assert.Equal(200, status);
        Assert.True(JsonNode.Parse(answer)!["ok"]!.GetValue<bool>());
        Assert.Contains(all, l => JsonNode.Parse(l)!["event"]?.GetValue<string>() == "token");
    }
}
