using System.Diagnostics;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Profiling;
using PixelLLM.Runtime.SafeTensors;

namespace PixelLLM.Cli;

/// <summary>
/// The common part of a request command: check the outputs can be written, load image and model, run with progress on a
/// terminal, then write every requested output all-or-nothing (temporary files renamed only when all are complete).
/// </summary>
internal static class RequestRun
{
    public static int Execute<T>(RequestArgs args, TextWriter output, Func<PixelLlmModel, PixelImage, RequestOptions, T> run,
        Func<T, PixelImage, byte[]> json, Func<T, PixelImage, byte[]> overlay, Action<T, TextWriter> print)
    {
        CheckCounts(args);
        var modelDir = RequestOptionsCli.ResolveModel(args.Model);
        OutputFile.CheckAll([("--json", args.Json), ("--overlay", args.Overlay), ("--dump", args.Dump), ("--profile-json", args.ProfileJson),
            ("--profile-timeline", args.ProfileTimeline)], modelDir);
        var profiler = args.Profile || args.ProfileJson is not null || args.ProfileTimeline is not null
            ? new ExecutionProfiler(args.ProfileLaunches, recordTimeline: args.ProfileTimeline is not null) : null;
        var options = args.ModelOptions(profiler);
        var image = PixelImage.Load(args.Image, options.MaxImagePixels);
        using var model = PixelLlmModel.Load(modelDir, options);

        var trace = args.Dump is null ? null : new SortedDictionary<string, HostTensor>(StringComparer.Ordinal);
        var progress = Progress.OnTerminal();
        Progress.Loaded(model, modelDir);
        var result = run(model, image, new RequestOptions { OnEvent = ProfileOutput.WithSections(progress, profiler?.Timeline), Trace = trace, Beams = args.Beams });
        profiler?.Timeline?.EndSection();
        progress?.Invoke(new StageStarted("done"));

        var outputs = new List<OutputFile.Pending>();
        if (args.Json is not null) outputs.Add(new("--json", args.Json, stream => stream.Write(json(result, image))));
        if (args.Overlay is not null) outputs.Add(new("--overlay", args.Overlay, stream => stream.Write(overlay(result, image))));
        if (args.Dump is not null)
            outputs.Add(new("--dump", args.Dump, stream => SafeTensorsWriter.Write(stream, trace!, new Dictionary<string, string> { ["source"] = args.Image, ["model"] = modelDir })));
        if (profiler is not null) outputs.AddRange(ProfileOutput.Write(profiler, args.Profile ? Console.Error : null, args.ProfileJson, args.ProfileTimeline));
        OutputFile.WriteAll(outputs);
        print(result, output);
        return 0;
    }

    /// <summary>--threads and --beams in range, before any work.</summary>
    internal static void CheckCounts(RequestArgs args)
    {
        if (args.Threads < 0) throw new InvalidInputException($"--threads must be 0 (all cores) or positive, got {args.Threads}");
        if (args.Beams is < 1 or > RequestOptions.MaxBeams)
            throw new InvalidInputException($"--beams must be 1 (greedy) to {RequestOptions.MaxBeams}, got {args.Beams}");
    }

    /// <summary>Stage lines with timings on stderr, only when stderr is a terminal.</summary>
    internal static class Progress
    {
        /// <summary>Which model runs where and at what precision, on a terminal only.</summary>
        public static void Loaded(PixelLlmModel model, string directory)
        {
            if (!Console.IsErrorRedirected)
                Console.Error.WriteLine($"pixelllm: {model.Name ?? directory} on {model.BackendName}, {ModelPrecision.Label(model.Precision)}");
        }

        public static Action<PixelLlmEvent>? OnTerminal()
        {
            if (Console.IsErrorRedirected) return null;
            var clock = Stopwatch.StartNew();
            string? stage = null;
            int tokens = 0;
            return e =>
            {
                switch (e)
                {
                    case StageStarted s:
                        if (stage is not null) Console.Error.WriteLine($"\rpixelllm: {stage} {clock.Elapsed.TotalSeconds:F1} s" + new string(' ', 12));
                        (stage, tokens) = (s.Stage == "done" ? null : s.Stage, 0);
                        clock.Restart();
                        if (stage is not null) Console.Error.Write($"pixelllm: {stage} ...");
                        break;
                    case TokenDecoded:
                        Console.Error.Write($"\rpixelllm: {stage} ... {++tokens} tokens");
                        break;
                }
            };
        }
    }
}
