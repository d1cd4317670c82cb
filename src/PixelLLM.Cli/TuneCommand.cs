using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PixelLLM.Backends.Cuda;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>
/// `pixelllm tune`: on this card, tries each alternative CUDA path (<see cref="TuneCandidates"/>) on top of the ones
/// already taken; a path is taken when backend-check passes with it (f32 and bf16 storage, on the ops it changes) and the
/// bench times it faster (<see cref="TuneDecision"/>). What was taken is written as the card's tuned profile, which every
/// later CUDA backend on the card applies (<see cref="CudaSwitchSettings"/>). Every check and bench is a child process
/// running with the built-in defaults plus the switches under test ($PIXELLLM_TUNED=0).
/// </summary>
internal static class TuneCommand
{
    private sealed record Plan(string Config, string DType, int Runs, IReadOnlyList<string> Stages, IReadOnlyList<TuneCandidate> Candidates,
        double MinGain, TimeSpan Timeout, string? LogFolder);

    public static Command Create()
    {
        var command = new Command("tune", "Check and time the engine's alternative CUDA paths on this card and keep the faster ones as its tuned profile");
        var config = new Option<string>("--config") { Description = "model configuration the bench times (random weights)", DefaultValueFactory = _ => "pixelllm-t5xl" };
        var dtype = new Option<string>("--dtype") { Description = "bench storage: bf16 (default) or f32", DefaultValueFactory = _ => "bf16" };
        var runs = new Option<int>("--runs") { Description = "timed runs per stage, best kept (default 3)", DefaultValueFactory = _ => 3 };
        var stages = new Option<string?>("--stages") { Description = "bench stages to time (default: every candidate's stages and e2e)" };
        var candidates = new Option<string?>("--candidates") { Description = $"comma-separated subset of: {string.Join(",", TuneCandidates.All.Select(c => c.Name))}" };
        var minGain = new Option<double>("--min-gain") { Description = "percent a path must gain on one of its stages, and may not lose on any (default 2)", DefaultValueFactory = _ => 2 };
        var timeout = new Option<int>("--timeout") { Description = "seconds each check or bench may take (default 600)", DefaultValueFactory = _ => 600 };
        var output = new Option<string?>("--out") { Description = "profile file to write (default: this card's, under $XDG_CACHE_HOME/pixelllm/tuned)" };
        var logs = new Option<string?>("--log") { Description = "folder to keep every check's and bench's output in" };
        var dryRun = new Option<bool>("--dry-run") { Description = "print every command tune would run, run none" };
        command.Options.Add(config);
        foreach (var o in new Option[] { dtype, runs, stages, candidates, minGain, timeout, output, logs, dryRun }) command.Options.Add(o);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            if (parse.GetValue(dtype) is not ("bf16" or "f32")) throw new InvalidInputException($"--dtype: unknown '{parse.GetValue(dtype)}' (expected bf16 or f32)");
            if (parse.GetValue(runs) < 1) throw new InvalidInputException("--runs must be at least 1");
            if (parse.GetValue(minGain) is not (>= 0 and < 100)) throw new InvalidInputException("--min-gain must be a percentage in [0, 100)");
            if (parse.GetValue(timeout) < 1) throw new InvalidInputException("--timeout must be at least 1 second");
            BenchConfigs.Get(parse.GetValue(config)!);
            var chosen = TuneCandidates.Select(parse.GetValue(candidates));
            var timed = parse.GetValue(stages) is { } list
                ? [.. BenchCommand.Stages(list)]
                : chosen.SelectMany(c => c.Stages).Append(TuneDecision.EndToEnd).Distinct().ToList();
            var plan = new Plan(parse.GetValue(config)!, parse.GetValue(dtype)!, parse.GetValue(runs), timed, chosen, parse.GetValue(minGain) / 100,
                TimeSpan.FromSeconds(parse.GetValue(timeout)), parse.GetValue(logs));
            var o = parse.InvocationConfiguration.Output;
            if (parse.GetValue(dryRun)) return DryRun(plan, o);
            if (parse.GetValue(output) is { } path) OutputFile.Check("--out", path);
            if (plan.LogFolder is not null) Directory.CreateDirectory(plan.LogFolder);
            return Run(plan, parse.GetValue(output), o);
        }));
        return command;
    }

    /// <summary>The children run with the built-in defaults: no tuned profile, only the switches under test.</summary>
    private static Dictionary<string, string?> Environment(IReadOnlyDictionary<string, string> switches)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal) { [TunedSwitches.Variable] = "0" };
        foreach (var (name, value) in switches) environment[name] = value;
        return environment;
    }

    private static string[] Check(string storage, string ops) =>
        ["backend-check", "--backend", "cuda", "--op", ops, .. storage == "f32" ? Array.Empty<string>() : ["--storage", storage]];

    private static string[] Bench(Plan plan, string json) =>
        ["bench", "--config", plan.Config, "--random-weights", "--backend", "cuda", "--dtype", plan.DType, "--runs", plan.Runs.ToString(CultureInfo.InvariantCulture),
            "--stages", string.Join(",", plan.Stages), "--json", json];

    private static string AllOps(Plan plan) => string.Join(",", plan.Candidates.SelectMany(c => c.Ops.Split(',')).Distinct());

    private static int DryRun(Plan plan, TextWriter o)
    {
        var none = Environment(new Dictionary<string, string>());
        o.WriteLine("reference (built-in defaults):");
        foreach (var storage in new[] { "f32", "bf16" }) o.WriteLine("  " + SelfProcess.Describe(none, Check(storage, AllOps(plan))));
        o.WriteLine("  " + SelfProcess.Describe(none, Bench(plan, "reference.json")));
        foreach (var c in plan.Candidates)
        {
            var env = Environment(c.Switches);
            o.WriteLine($"{c.Name} ({c.What}; decided on {string.Join(",", c.Stages)}), on top of the paths taken before it:");
            foreach (var storage in new[] { "f32", "bf16" }) o.WriteLine("  " + SelfProcess.Describe(env, Check(storage, c.Ops)));
            o.WriteLine("  " + SelfProcess.Describe(env, Bench(plan, $"{c.Name}.json")));
        }
        return 0;
    }

    private static int Run(Plan plan, string? outputPath, TextWriter o)
    {
        var tunedAlready = CudaSwitches.All.Where(s => s.Tunable && s.Value is not null).Select(s => s.Name).ToList();
        if (tunedAlready.Count > 0)
            throw new InvalidInputException($"tune times every path against the built-in defaults: unset {string.Join(", ", tunedAlready)} first");
        string device, arch;
        using (var probe = CudaBackend.Create()) (device, arch) = (probe.Switches.Device, probe.Switches.Arch);
        var path = outputPath ?? TunedSwitches.DefaultPath(device, arch);
        var work = Directory.CreateTempSubdirectory("pixelllm-tune-").FullName;
        try
        {
            o.WriteLine($"pixelllm tune: {device} ({arch}), {plan.Config} random weights {plan.DType}, stages {string.Join(",", plan.Stages)}, " +
                        $"best of {plan.Runs}; a path is taken at {plan.MinGain * 100:0.#}% faster");
            var taken = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var storage in new[] { "f32", "bf16" })
            {
                var check = Child(plan, $"reference-check-{storage}", Check(storage, AllOps(plan)), taken);
                if (!check.Passed) throw new BackendException($"tune: the built-in paths fail backend-check ({storage} storage) on this card: {check.LastLine}");
            }
            var (measured, failure) = Timings(plan, "reference", taken, work);
            var reference = measured ?? throw new BackendException($"tune: the bench on the built-in paths failed: {failure}");
            var initial = reference;
            o.WriteLine("reference: " + string.Join(", ", plan.Stages.Where(reference.ContainsKey).Select(s => $"{s} {reference[s]:F2} ms")));
            var outcomes = new List<(TuneCandidate Candidate, string Checks, TuneVerdict? Verdict)>();
            foreach (var c in plan.Candidates)
            {
                var trial = new Dictionary<string, string>(taken, StringComparer.Ordinal);
                foreach (var (name, value) in c.Switches) trial[name] = value;
                var failed = new[] { "f32", "bf16" }.Select(storage => (storage, result: Child(plan, $"{c.Name}-check-{storage}", Check(storage, c.Ops), trial)))
                    .FirstOrDefault(r => !r.result.Passed);
                var (timings, benchFailure) = failed.result is null ? Timings(plan, c.Name, trial, work) : (null, null);
                if (timings is null)
                {
                    var why = failed.result is not null ? $"fails backend-check ({failed.storage}): {failed.result.LastLine}" : benchFailure!;
                    outcomes.Add((c, why, null));
                    o.WriteLine($"  {c.Name,-16} not taken: {why}");
                    continue;
                }
                var verdict = TuneDecision.Judge(reference, timings, c.Stages, plan.MinGain);
                outcomes.Add((c, "pass", verdict));
                o.WriteLine($"  {c.Name,-16} {(verdict.Taken ? "TAKEN" : "not taken")}: {verdict.Reason}");
                if (!verdict.Taken) continue;
                taken = trial;
                reference = timings;
            }
            new TunedSwitches(device, arch, TunedSwitches.EngineKey, taken).Write(path, w => Evidence(w, plan, initial, reference, outcomes));
            o.WriteLine($"tune: {taken.Count} switch(es) set: {(taken.Count == 0 ? "every built-in default kept" : string.Join(" ", taken.Select(t => $"{t.Key}={t.Value}")))}");
            o.WriteLine("tuned: " + string.Join(", ", plan.Stages.Where(s => initial.ContainsKey(s) && reference.ContainsKey(s))
                .Select(s => $"{s} {initial[s]:F2} → {reference[s]:F2} ms")));
            o.WriteLine(outputPath is null
                ? $"profile: {path} (applied by every CUDA backend on this card from now on; ${TunedSwitches.Variable}=0 ignores it)"
                : $"profile: {path} (applied where ${TunedSwitches.Variable}={path}; the card's own is {TunedSwitches.DefaultPath(device, arch)})");
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static ChildResult Child(Plan plan, string step, string[] arguments, IReadOnlyDictionary<string, string> switches)
    {
        var environment = Environment(switches);
        var result = SelfProcess.Run(arguments, environment, plan.Timeout);
        if (plan.LogFolder is not null)
            File.WriteAllText(Path.Combine(plan.LogFolder, step + ".log"), $"$ {SelfProcess.Describe(environment, arguments)}\n{result.Output}" +
                (result.TimedOut ? $"\n(killed after {plan.Timeout.TotalSeconds:0} s)\n" : $"\n(exit {result.ExitCode})\n"));
        return result;
    }

    /// <summary>
    /// Best-of-N milliseconds by stage key from one bench child, or why there are none: the bench failed, or a replayed
    /// end-to-end run decoded other tokens than its eager warm-up (the bench's own check of recorded graphs).
    /// </summary>
    private static (Dictionary<string, double>? Ms, string? Failure) Timings(Plan plan, string step, IReadOnlyDictionary<string, string> switches, string work)
    {
        var json = Path.Combine(work, step + ".json");
        var result = Child(plan, step + "-bench", Bench(plan, json), switches);
        if (!result.Passed || !File.Exists(json))
            return (null, "bench failed: " + (result.TimedOut ? $"killed after {plan.Timeout.TotalSeconds:0} s" : result.LastLine));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(json));
        var stages = doc.RootElement.GetProperty("stages").EnumerateArray().ToList();
        if (stages.FirstOrDefault(s => s.GetProperty("note").GetString()?.Contains("== warm-up's: NO", StringComparison.Ordinal) == true) is { ValueKind: JsonValueKind.Object } diverged)
            return (null, $"bench: {diverged.GetProperty("key").GetString()}'s replayed runs decode other tokens than its warm-up");
        return (stages.ToDictionary(s => s.GetProperty("key").GetString()!, s => s.GetProperty("best_ms").GetDouble(), StringComparer.Ordinal), null);
    }

    private static void Evidence(Utf8JsonWriter w, Plan plan, Dictionary<string, double> initial, Dictionary<string, double> final,
        List<(TuneCandidate Candidate, string Checks, TuneVerdict? Verdict)> outcomes)
    {
        w.WriteString("config", plan.Config);
        w.WriteString("dtype", plan.DType);
        w.WriteNumber("runs", plan.Runs);
        w.WriteNumber("min_gain", plan.MinGain);
        void Stages(string name, Dictionary<string, double> ms)
        {
            w.WriteStartObject(name);
            foreach (var s in plan.Stages.Where(ms.ContainsKey)) w.WriteNumber(s, ms[s]);
            w.WriteEndObject();
        }
        Stages("reference_ms", initial);
        Stages("tuned_ms", final);
        w.WriteStartArray("candidates");
        foreach (var (c, checks, verdict) in outcomes)
        {
            w.WriteStartObject();
            w.WriteString("name", c.Name);
            w.WriteString("switches", c.SwitchesLine);
            w.WriteString("checks", checks);
            w.WriteBoolean("taken", verdict?.Taken == true);
            if (verdict is not null)
            {
                w.WriteString("reason", verdict.Reason);
                w.WriteStartArray("stages");
                foreach (var s in verdict.Changes)
                {
                    w.WriteStartObject();
                    w.WriteString("stage", s.Stage);
                    w.WriteNumber("reference_ms", s.ReferenceMs);
                    w.WriteNumber("candidate_ms", s.CandidateMs);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
