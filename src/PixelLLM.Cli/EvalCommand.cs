using System.CommandLine;
using System.Diagnostics;
using PixelLLM.Cli.Evaluation;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>What <c>pixelllm eval</c> was asked.</summary>
internal sealed record EvalArgs(string Task, string Data, string? Model, int? Limit, string? Json, string Backend = "cpu", string Precision = "auto");

/// <summary>
/// <c>pixelllm eval --task trace|refer|loca|segment|all --data DIR</c>: weights-tools/trainer/eval.py's held-out metrics on a
/// scenes.py folder, through the engine. Prints a table (metric, value, count, target); --json writes the numbers.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "trace, refer, loca, segment or all (default)", DefaultValueFactory = _ => "all" };
        var data = new Option<string>("--data") { Description = "a folder written by weights-tools/trainer/scenes.py (annotations.json + PNGs)", Required = true };
        var model = new Option<string?>("--model") { Description = "model directory (default: models/default under the repository root, or $PIXELLLM_MODEL)" };
        var limit = new Option<int?>("--limit") { Description = "score only the first N scenes" };
        var json = new Option<string?>("--json") { Description = "also write the numbers as JSON to this file" };
        var backend = new Option<string>("--backend") { Description = "cpu (default), cpu-f64 (GEMMs summed in float64; slower) or cuda", DefaultValueFactory = _ => "cpu" };
        var command = new Command("eval", "Held-out metrics on a synthetic scene set (trace hit rate, referring P@0.5, mask IoU, region captions)");
        var precision = new RequestOptionsCli().Precision;
        foreach (var o in new Option[] { task, data, model, limit, json, backend, precision }) command.Options.Add(o);
        command.SetAction(parse => CliErrors.Guard(() => Run(new EvalArgs(parse.GetValue(task)!, parse.GetValue(data)!, parse.GetValue(model),
            parse.GetValue(limit), parse.GetValue(json), parse.GetValue(backend)!, parse.GetValue(precision)!), parse.InvocationConfiguration.Output)));
        return command;
    }

    internal static int Run(EvalArgs args, TextWriter output)
    {
        var tasks = ParseTask(args.Task);
        if (args.Limit is < 1) throw new InvalidInputException($"--limit must be at least 1, got {args.Limit}");
        if (args.Json is not null) OutputFile.Check("--json", args.Json);
        var set = SceneSetReader.Read(args.Data);
        SceneEvaluator.CheckPrompts(set);
        var scenes = set.Scenes.Take(args.Limit ?? int.MaxValue).ToList();
        var modelDir = RequestOptionsCli.ResolveModel(args.Model);
        var options = new PixelLlmOptions
        {
            Backend = RequestOptionsCli.ParseBackend(args.Backend), Precision = RequestOptionsCli.ParsePrecision(args.Precision), MaxConcurrentRequests = 1,
        };
        using var model = PixelLlmModel.Load(modelDir, options);

        var clock = Stopwatch.StartNew();
        Action<int>? progress = Console.IsErrorRedirected ? null : done => Console.Error.Write($"\rpixelllm: eval {done}/{scenes.Count} scenes");
        var metrics = SceneEvaluator.Run(model, scenes, tasks, progress);
        if (progress is not null) Console.Error.WriteLine();
        var rows = EvalReport.Rows(metrics, tasks);
        if (args.Json is not null)
        {
            var report = EvalReport.Json(rows, metrics.Scenes, args.Task, args.Data, modelDir, model.BackendName, clock.Elapsed.TotalSeconds);
            OutputFile.Write("--json", args.Json, stream => stream.Write(report));
        }
        EvalReport.WriteTable(output, rows, metrics.Scenes);
        return 0;
    }

    internal static EvalTasks ParseTask(string name) => name switch
    {
        "trace" => EvalTasks.Trace,
        "refer" => EvalTasks.Refer,
        "loca" => EvalTasks.Loca,
        "segment" => EvalTasks.Segment,
        "all" => EvalTasks.All,
        _ => throw new InvalidInputException($"--task: unknown task '{name}' (expected trace, refer, loca, segment or all)"),
    };

}
