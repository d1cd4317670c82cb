using System.Diagnostics;
using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM;

/// <summary>
/// The request-line protocol (<c>pixelllm-serve/1</c>) that <c>serve</c>, its HTTP form, <see cref="PixelLlmModel.Answer"/>
/// and the C library speak: one JSON request object in, one JSON answer line out; a failure is an answer, never an exception.
/// </summary>
internal static class ServeProtocol
{
    public const string Schema = "pixelllm-serve/1";

    /// <summary>Most requests a server or library computes at once (<c>--parallel</c>, the C library's "parallel").</summary>
    public const int MaxParallel = 64;

    /// <summary>The answer line to one request line, with the failure's kind (null when the request succeeded).</summary>
    /// <param name="model">the model that answers.</param>
    /// <param name="line">the request, one JSON object.</param>
    /// <param name="events">where the request's events go and what cancels it (the request's own beams apply).</param>
    /// <param name="pixels">the image, when the caller passes it decoded (the request then names none); built only
    /// once the line has parsed, so a bad line is reported before bad pixels.</param>
    /// <param name="stream">where a request with <c>"stream": true</c> sends its event lines (<see cref="EventLine"/> with
    /// its id) while it runs; null where the caller has no channel for them (such a request is refused).</param>
    internal static (string Line, string? Kind) Respond(PixelLlmModel model, string line, RequestOptions? events = null, Func<PixelImage>? pixels = null,
        Action<string>? stream = null)
    {
        JsonElement? id = null;
        var clock = Stopwatch.StartNew();
        try
        {
            var request = ServeRequest.Parse(line, out id, pixelsGiven: pixels is not null);
            var options = (events ?? new RequestOptions()) with { Beams = request.Beams };
            if (request.Stream)
            {
                if (stream is null)
                    throw new InvalidInputException("request field 'stream': not through this call (serve's JSON lines and POST /v1/requests stream events; the C library reports them through pixelllm_request_events)");
                var requestId = id;
                options = options with { OnEvent = e => { if (EventLine(e, requestId) is { } eventLine) stream(eventLine); } };
            }
            var result = request.Task == "info" ? null
                : Execute(model, request, pixels is null ? request.LoadImage(model.MaxImagePixels) : pixels(), options);
            return (Line(w =>
            {
                WriteId(w, id);
                w.WriteBoolean("ok", true);
                w.WriteNumber("ms", Math.Round(clock.Elapsed.TotalMilliseconds, 1));
                w.WritePropertyName("result");
                if (result is null) { w.WriteStartObject(); WriteInfo(w, model); w.WriteEndObject(); }
                else JsonDocument.Parse(result).RootElement.WriteTo(w);
            }), null);
        }
        catch (Exception e)
        {
            var (kind, message) = Classify(e);
            return (ErrorLine(id, kind, message), kind);
        }
    }

    /// <summary>Runs a (non-info) request on an image already decoded, with <paramref name="options"/>; its result document.</summary>
    internal static byte[] Execute(PixelLlmModel model, ServeRequest r, PixelImage image, RequestOptions options)
    {
        var described = new ImageJson(image.Source, image.Width, image.Height);
        return r.Task switch
        {
            "caption" when r.Boxes.Count == 0 => ResultJson.Caption([model.Caption(image, (Box?)null, options)], described),
            "caption" => ResultJson.Caption(model.Caption(image, r.Boxes, options), described),
            "refer" => ResultJson.Refer(model.Refer(image, r.Texts, r.DecodeText, options), described),
            "segment" => ResultJson.Segment(model.Segment(image, r.Texts, !r.TeacherForced, options), described),
            "densecap" => ResultJson.DenseCaption(model.DenseCaption(image, options), described),
            var other => throw new InvalidInputException($"request field 'task': unknown '{other}'"),
        };
    }

    /// <summary>What failed, as a kind a client can branch on, and the one line the CLI would print for it.</summary>
    internal static (string Kind, string Message) Classify(Exception e) => e switch
    {
        OperationCanceledException => ("cancelled", "request cancelled by its caller"),
        ResourceLimitException => ("resource_limit", e.Message),
        OutOfBackendMemoryException or OutOfMemoryException => ("out_of_memory", e.Message),
        InvalidInputException or GraphBuildException or IOException or UnauthorizedAccessException => ("invalid_input", e.Message),
        ModelFileException or NotSupportedException => ("model", e.Message),
        BackendException => ("backend", e.Message),
        _ => ("internal", $"{e.GetType().Name}: {e.Message}"),
    };

    /// <summary>
    /// An event as the C library streams it: <c>{"event": "stage", "stage"}</c> when a stage begins, <c>{"event": "token",
    /// "prompt", "position", "token_id", "piece"}</c> when a token is final; null for the results (the answer carries them).
    /// </summary>
    /// <param name="e">the event.</param>
    /// <param name="id">serve's form: the request's id first (null: the C library's form, without it).</param>
    internal static string? EventLine(PixelLlmEvent e, JsonElement? id = null) => e switch
    {
        StageStarted stage => Line(w => { WriteEventId(w, id); w.WriteString("event", "stage"); w.WriteString("stage", stage.Stage); }),
        TokenDecoded token => Line(w =>
        {
            WriteEventId(w, id);
            w.WriteString("event", "token");
            w.WriteNumber("prompt", token.Prompt);
            w.WriteNumber("position", token.Position);
            w.WriteNumber("token_id", token.Id);
            w.WriteString("piece", token.Piece);
        }),
        _ => null,
    };

    /// <summary>A failure's answer: <c>{"id", "ok": false, "kind", "error"}</c>.</summary>
    internal static string ErrorLine(JsonElement? id, string kind, string message) =>
        Line(w => { WriteId(w, id); w.WriteBoolean("ok", false); w.WriteString("kind", kind); w.WriteString("error", message); });

    /// <summary>The first line the server writes: ready, the schema and the model's info (and where it listens, over HTTP).</summary>
    internal static string Ready(PixelLlmModel model, string? listening) => Line(w =>
    {
        w.WriteBoolean("ready", true);
        w.WriteString("schema", Schema);
        if (listening is not null) w.WriteString("listening", listening);
        WriteInfo(w, model);
    });

    private static void WriteInfo(Utf8JsonWriter w, PixelLlmModel model)
    {
        w.WriteString("model", model.Name);
        w.WriteString("backend", model.BackendName);
        w.WriteString("precision", ModelPrecision.Label(model.Precision));
        w.WriteNumber("canvas", model.Canvas);
        w.WriteNumber("max_caption_length", model.MaxCaptionLength);
        w.WriteStartArray("tasks");
        w.WriteStringValue("caption");
        if (model.HasPointHead) w.WriteStringValue("refer");
        if (model.CanSegment) w.WriteStringValue("segment");
        if (model.CanDenseCaption) w.WriteStringValue("densecap");
        w.WriteStringValue("info");
        w.WriteEndArray();
    }

    private static void WriteEventId(Utf8JsonWriter w, JsonElement? id)
    {
        if (id is not null) WriteId(w, id);
    }

    private static void WriteId(Utf8JsonWriter w, JsonElement? id)
    {
        w.WritePropertyName("id");
        if (id is { } given) given.WriteTo(w);
        else w.WriteNullValue();
    }

    private static string Line(Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
