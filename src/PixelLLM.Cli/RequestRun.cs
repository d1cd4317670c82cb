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
        foreach (var path in new[] { args.Json, args.Overlay, args.Dump, args.ProfileJson, args.ProfileTimeline })
            if (path is not null) CheckWritable(path);
        CheckCounts(args);
        var profiler = args.Profile || args.ProfileJson is not null || args.ProfileTimeline is not null
            ? new ExecutionProfiler(args.ProfileLaunches, recordTimeline: args.ProfileTimeline is not null) : null;
        var options = args.ModelOptions(profiler);
        var modelDir = RequestOptionsCli.ResolveModel(args.Model);
        var image = PixelImage.Load(args.Image, options.MaxImagePixels);
        using var model = PixelLlmModel.Load(modelDir, options);

        var trace = args.Dump is null ? null : new SortedDictionary<string, HostTensor>(StringComparer.Ordinal);
        var progress = Progress.OnTerminal();
        Progress.Loaded(model, modelDir);
        var result = run(model, image, new RequestOptions { OnEvent = ProfileOutput.WithSections(progress, profiler?.Timeline), Trace = trace, Beams = args.Beams });
        profiler?.Timeline?.EndSection();
        progress?.Invoke(new StageStarted("done"));

        var pending = new List<(string Temp, string Final)>();
        try
        {
            if (args.Json is not null) pending.Add(WriteTemp(args.Json, json(result, image)));
            if (args.Overlay is not null) pending.Add(WriteTemp(args.Overlay, overlay(result, image)));
            if (args.Dump is not null) SafeTensorsWriter.Write(args.Dump, trace!, new Dictionary<string, string> { ["source"] = args.Image, ["model"] = modelDir });
            foreach (var (temp, final) in pending) File.Move(temp, final, overwrite: true);
            pending.Clear();
        }
        finally
        {
            foreach (var (temp, _) in pending) File.Delete(temp);
        }
        print(result, output);
        if (profiler is not null) ProfileOutput.Write(profiler, args.Profile ? Console.Error : null, args.ProfileJson, args.ProfileTimeline);
        return 0;
    }

    /// <summary>--threads and --beams in range, before any work.</summary>
    internal static void CheckCounts(RequestArgs args)
    {
        if (args.Threads < 0) throw new InvalidInputException($"--threads must be 0 (all cores) or positive, got {args.Threads}");
        if (args.Beams is < 1 or > RequestOptions.MaxBeams)
            throw new InvalidInputException($"--beams must be 1 (greedy) to {RequestOptions.MaxBeams}, got {args.Beams}");
    }

    /// <summary>Fails before any work when an output's folder is missing or the path is a folder.</summary>
    internal static void CheckWritable(string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new InvalidInputException($"{path}: is a directory, expected an output file name");
        var dir = Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir)) throw new InvalidInputException($"{path}: the folder {dir} does not exist");
    }

    internal static (string, string) WriteTemp(string path, byte[] bytes)
    {
        var full = Path.GetFullPath(path);
        var temp = TempBeside(full);
        File.WriteAllBytes(temp, bytes);
        return (temp, full);
    }

    /// <summary>A hidden, unique file name beside <paramref name="full"/>, where an output is written before it is renamed.</summary>
    internal static string TempBeside(string full) => Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");

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
