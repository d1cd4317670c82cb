using System.Net;
using System.Text;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// <c>pixelllm serve --http HOST:PORT</c>: the same requests and answers as the JSON-line server, over HTTP —
/// <c>POST /v1/requests</c> with one request object as the body, <c>GET /v1/info</c>; each answer is the line the
/// JSON-line server would write, with a status a client can branch on (200, 400, 413, 422, 503, 500). A request with
/// "stream": true gets its event lines first, in a chunked NDJSON body.
/// </summary>
internal static class ServeHttp
{
    /// <summary>Largest request body accepted (a 40-megapixel PNG in base64 fits).</summary>
    public const long MaxBodyBytes = 256L << 20;

    /// <summary>Serves until <paramref name="stop"/> is cancelled; the ready line (with the address) goes to <paramref name="log"/>.</summary>
    public static int Run(PixelLlmModel model, string address, TextWriter log, CancellationToken stop)
    {
        using var listener = new HttpListener();
        foreach (var prefix in Prefixes(address)) listener.Prefixes.Add(prefix);
        try { listener.Start(); }
        catch (HttpListenerException e) { throw new InvalidInputException($"--http {address}: cannot listen there ({e.Message})"); }
        log.WriteLine(ServeProtocol.Ready(model, $"http://{address}/"));
        log.Flush();
        using var stopping = stop.Register(listener.Stop);
        var running = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = listener.GetContext(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException && stop.IsCancellationRequested) { break; }
            running.RemoveAll(t => t.IsCompleted);
            running.Add(Task.Run(() => Handle(model, context)));
        }
        Task.WaitAll(running);
        return 0;
    }

    /// <summary>
    /// The listener's prefixes: it matches requests by their Host header, so a loopback address also answers under the
    /// other loopback names a client may use.
    /// </summary>
    internal static IReadOnlyList<string> Prefixes(string address)
    {
        int colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address[(colon + 1)..], out int port) || port is < 1 or > 65535)
            throw new InvalidInputException($"--http {address}: expected HOST:PORT (e.g. 127.0.0.1:8080)");
        var host = address[..colon];
        string[] loopback = ["127.0.0.1", "localhost"];
        return loopback.Contains(host) ? [.. loopback.Select(h => $"http://{h}:{port}/")] : [$"http://{address}/"];
    }

    private static void Handle(PixelLlmModel model, HttpListenerContext context)
    {
        var (request, response) = (context.Request, context.Response);
        (int Status, string Body)? answer;
        try
        {
            answer = (request.HttpMethod, request.Url?.AbsolutePath) switch
            {
                ("GET", "/v1/info") => Answer(model, """{"task": "info"}"""),
                ("POST", "/v1/requests") when request.ContentLength64 > MaxBodyBytes =>
                    (413, Error("resource_limit", $"request body of {request.ContentLength64} bytes, more than {MaxBodyBytes}")),
                ("POST", "/v1/requests") => Answer(model, ReadBody(request), response),
                (_, "/v1/info" or "/v1/requests") => (405, Error("invalid_input", $"{request.HttpMethod} {request.Url?.AbsolutePath}: use GET /v1/info or POST /v1/requests")),
                _ => (404, Error("invalid_input", $"{request.Url?.AbsolutePath}: not found (GET /v1/info, POST /v1/requests)")),
            };
        }
        catch (DecoderFallbackException)
        {
            answer = (400, Error("invalid_input", "request body: not UTF-8 text"));
        }
        catch (Exception e) when (e is IOException or HttpListenerException or InvalidInputException)
        {
            answer = (400, Error("invalid_input", $"request body: {e.Message}"));
        }
        if (answer is not { } whole) return;  // streamed: the answer ended the body
        try
        {
            var bytes = Encoding.UTF8.GetBytes(whole.Body + "\n");
            response.StatusCode = whole.Status;
            response.ContentType = "application/json; charset=utf-8";
            response.ContentLength64 = bytes.Length;
            response.OutputStream.Write(bytes);
            response.Close();
        }
        catch (Exception e) when (e is IOException or HttpListenerException or ObjectDisposedException) { } // the client left
    }

    /// <summary>The answer and its status, or null when the request streamed its events and the answer ended that body.</summary>
    private static (int, string)? Answer(PixelLlmModel model, string body, HttpListenerResponse? response = null)
    {
        if (response is null) return Answer(model, body, events: null);
        using var events = new EventBody(line =>
        {
            if (!response.SendChunked)
            {
                response.StatusCode = 200;
                response.ContentType = "application/x-ndjson; charset=utf-8";
                response.SendChunked = true;
            }
            response.OutputStream.Write(Encoding.UTF8.GetBytes(line + "\n"));
            response.OutputStream.Flush();
        });
        var answer = Answer(model, body, events);
        if (!events.Started) return answer;
        events.Write(answer.Line);
        try { response.Close(); }
        catch (Exception e) when (e is IOException or HttpListenerException or ObjectDisposedException) { }
        return null;
    }

    /// <summary>
    /// The answer line and its status; with <paramref name="events"/>, a streaming request's events go there (the caller
    /// then ends that body with the answer). A client that leaves a streamed body cancels its request (answered
    /// "cancelled", to nobody) instead of letting it decode to the end.
    /// </summary>
    internal static (int Status, string Line) Answer(PixelLlmModel model, string body, EventBody? events)
    {
        var options = events is null ? null : new RequestOptions { Cancellation = events.ClientLeft };
        var (line, kind) = ServeProtocol.Respond(model, body, options, stream: events is null ? null : events.Write);
        return (Status(kind), line);
    }

    /// <summary>
    /// A streaming request's body: its first event sends status 200 and a chunked NDJSON body, one line per event, and the
    /// answer line ends it (a request that fails before its first event gets the usual status and single answer). A
    /// write that fails means the client left: nothing more is sent and <see cref="ClientLeft"/> is cancelled.
    /// </summary>
    internal sealed class EventBody(Action<string> send) : IDisposable
    {
        private readonly CancellationTokenSource left = new();

        public bool Started { get; private set; }

        /// <summary>Cancelled once a write to the client has failed.</summary>
        public CancellationToken ClientLeft => left.Token;

        public void Write(string line)
        {
            if (left.IsCancellationRequested) return;
            Started = true;
            try { send(line); }
            catch (Exception e) when (e is IOException or HttpListenerException or ObjectDisposedException) { left.Cancel(); }
        }

        public void Dispose() => left.Dispose();
    }

    /// <summary>The HTTP status for an answer's failure kind (null: success).</summary>
    internal static int Status(string? kind) => kind switch
    {
        null => 200,
        "invalid_input" => 400,
        "resource_limit" => 413,
        "model" => 422,
        "out_of_memory" => 503,
        _ => 500,
    };

    private static string ReadBody(HttpListenerRequest request)
    {
        // Strict UTF-8: bytes that are not text are a bad request, not text with replacement characters in it.
        using var reader = new StreamReader(request.InputStream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true));
        var buffer = new char[64 * 1024];
        var text = new StringBuilder();
        for (int n; (n = reader.Read(buffer)) > 0;)
        {
            text.Append(buffer, 0, n);
            if (text.Length > MaxBodyBytes) throw new InvalidInputException($"more than {MaxBodyBytes} bytes");
        }
        return text.ToString();
    }

    private static string Error(string kind, string message) => ServeProtocol.ErrorLine(null, kind, message);
}
