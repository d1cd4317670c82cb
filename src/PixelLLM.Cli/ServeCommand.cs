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
            if (n is < 1 or > ServeProtocol.MaxParallel) throw new InvalidInputException($"--parallel must be from 1 to {ServeProtocol.MaxParallel}, got {n}");
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
        output.WriteLine(ServeProtocol.Ready(model, listening: null));
        output.Flush();
        using var slots = new SemaphoreSlim(options.MaxConcurrentRequests);
        // Answers leave in request order as soon as each is done, so a client may wait for one before sending the next.
        var answers = System.Threading.Channels.Channel.CreateUnbounded<Task<string>>(new() { SingleReader = true, SingleWriter = true });
        // Event lines of streaming requests are written as they happen, between answers, never inside one.
        var gate = new object();
        void Write(string line)
        {
            lock (gate)
            {
                output.WriteLine(line);
                output.Flush();
            }
        }
        var writer = Task.Run(async () =>
        {
            await foreach (var answer in answers.Reader.ReadAllAsync()) Write(await answer);
        });
        var lines = new BoundedLineReader(input, maxLineChars);
        for (string? line; (line = lines.ReadLine(out bool tooLong)) is not null;)
        {
            if (tooLong)
            {
                answers.Writer.TryWrite(Task.FromResult(ServeProtocol.ErrorLine(null, "resource_limit", $"request line longer than {maxLineChars} characters; skipped")));
                continue;
            }
            if (string.IsNullOrWhiteSpace(line)) continue;
            slots.Wait();
            var request = line;
            answers.Writer.TryWrite(Task.Run(() =>
            {
                try { return ServeProtocol.Respond(model, request, stream: Write).Line; }
                finally { slots.Release(); }
            }));
        }
        answers.Writer.Complete();
        writer.GetAwaiter().GetResult();
        return 0;
    }
}
