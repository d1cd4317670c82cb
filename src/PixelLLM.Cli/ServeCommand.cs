using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// <c>pixelllm serve</c>: loads a model once and answers requests, one JSON object per line on stdin, one JSON line per
/// request on stdout, in order, until stdin ends — how a program in any language embeds the engine without paying the load
/// (weights, kernels, compiled graphs) per request. A bad request gets an error line and the server goes on.
/// </summary>
internal static class ServeCommand
{
    public const string Schema = "pixelllm-serve/1";

    public static Command Create()
    {
        var shared = new RequestOptionsCli();
        var parallel = new Option<int>("--parallel")
        {
            Description = "requests computed at the same time (CPU; default 1): answers still come in request order, each equal to its sequential result",
            DefaultValueFactory = _ => 1,
        };
        var http = new Option<string?>("--http")
        {
            Description = "serve over HTTP on HOST:PORT instead of stdin/stdout (POST /v1/requests, GET /v1/info) until Ctrl-C or SIGTERM",
        };
        var command = new Command("serve", "Keep a model loaded and answer requests: one JSON object per line on stdin, one JSON line per result on stdout");
        foreach (var o in new Option[] { shared.Model, shared.Backend, shared.Precision, shared.Threads, parallel, http }) command.Options.Add(o);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var args = new RequestArgs("", parse.GetValue(shared.Model), parse.GetValue(shared.Backend)!, null, null, null,
                parse.GetValue(shared.Threads), Precision: parse.GetValue(shared.Precision)!);
            RequestRun.CheckCounts(args);
            int n = parse.GetValue(parallel);
            if (n is < 1 or > 64) throw new InvalidInputException($"--parallel must be from 1 to 64, got {n}");
            var options = args.ModelOptions() with { MaxConcurrentRequests = n };
            var modelDirectory = RequestOptionsCli.ResolveModel(args.Model);
            if (parse.GetValue(http) is not { } address) return Run(options, modelDirectory, Console.In, Console.Out);
            using var model = PixelLlmModel.Load(modelDirectory, options);
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
            using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM,
                signal => { signal.Cancel = true; stop.Cancel(); });
            return ServeHttp.Run(model, address, Console.Out, stop.Token);
        }));
        return command;
    }

    /// <summary>
    /// Loads the model (a failure is the command's one error line), says it is ready, then answers every line: up to
    /// <see cref="PixelLlmOptions.MaxConcurrentRequests"/> at once, written in the order the requests came.
    /// </summary>
    /// <param name="maxLineChars">longest request line read; a longer one is answered with a resource_limit error.</param>
    internal static int Run(PixelLlmOptions options, string modelDirectory, TextReader input, TextWriter output, long maxLineChars = ServeHttp.MaxBodyBytes)
    {
        using var model = PixelLlmModel.Load(modelDirectory, options);
        output.WriteLine(Ready(model, listening: null));
        output.Flush();
        using var slots = new SemaphoreSlim(options.MaxConcurrentRequests);
        // Answers leave in request order as soon as each is done, so a client may wait for one before sending the next.
        var answers = System.Threading.Channels.Channel.CreateUnbounded<Task<string>>(new() { SingleReader = true, SingleWriter = true });
        var writer = Task.Run(async () =>
        {
            await foreach (var answer in answers.Reader.ReadAllAsync())
            {
                output.WriteLine(await answer);
                output.Flush();
            }
        });
        var lines = new BoundedLineReader(input, maxLineChars);
        for (string? line; (line = lines.ReadLine(out bool tooLong)) is not null;)
        {
            if (tooLong)
            {
                answers.Writer.TryWrite(Task.FromResult(ErrorLine(null, "resource_limit", $"request line longer than {maxLineChars} characters; skipped")));
                continue;
            }
            if (string.IsNullOrWhiteSpace(line)) continue;
            slots.Wait();
            var request = line;
            answers.Writer.TryWrite(Task.Run(() => { try { return Answer(model, request); } finally { slots.Release(); } }));
        }
        answers.Writer.Complete();
        writer.GetAwaiter().GetResult();
        return 0;
    }

    /// <summary>The response line to one request line: <c>{"id", "ok": true, "ms", "result"}</c> or <c>{"id", "ok": false, "error", "kind"}</c>.</summary>
    internal static string Answer(PixelLlmModel model, string line) => Respond(model, line).Line;

    /// <summary><see cref="Answer"/>, with the failure's kind (null when the request succeeded).</summary>
    internal static (string Line, string? Kind) Respond(PixelLlmModel model, string line)
    {
        JsonElement? id = null;
        var clock = Stopwatch.StartNew();
        try
        {
            var request = ServeRequest.Parse(line, out id);
            var result = Execute(model, request);
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

    /// <summary>The pixelllm-result/1 document of the request (null for "info").</summary>
    private static byte[]? Execute(PixelLlmModel model, ServeRequest r) =>
        r.Task == "info" ? null : Execute(model, r, r.LoadImage(model.MaxImagePixels), new RequestOptions { Beams = r.Beams });

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
        ResourceLimitException => ("resource_limit", e.Message),
        OutOfBackendMemoryException or OutOfMemoryException => ("out_of_memory", e.Message),
        InvalidInputException or GraphBuildException or IOException or UnauthorizedAccessException => ("invalid_input", e.Message),
        ModelFileException or NotSupportedException => ("model", e.Message),
        BackendException => ("backend", e.Message),
        _ => ("internal", $"{e.GetType().Name}: {e.Message}"),
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
