using System.CommandLine;
using PixelLLM.Runtime;

namespace PixelLLM.Cli;

/// <summary>What every request command (caption, refer) shares: the image, the model, the backend and the output files.</summary>
internal sealed record RequestArgs(string Image, string? Model, string Backend, string? Json, string? Overlay, string? Dump, int Threads = 0,
    bool Profile = false, string? ProfileJson = null, bool ProfileLaunches = false, int? Beams = null, string? ProfileTimeline = null, string Precision = "auto")
{
    /// <summary>The model options these arguments ask for (one request at a time: a command runs one).</summary>
    public PixelLlmOptions ModelOptions(Runtime.Profiling.ExecutionProfiler? profiler = null) => new()
    {
        Backend = RequestOptionsCli.ParseBackend(Backend), Precision = RequestOptionsCli.ParsePrecision(Precision), Threads = Threads,
        MaxConcurrentRequests = 1, Profiler = profiler,
    };
}

/// <summary>The options of <see cref="RequestArgs"/> and the model lookup they imply.</summary>
internal sealed class RequestOptionsCli
{
    public Argument<string> Image { get; } = new("image") { Description = "a PNG or JPEG image" };
    public Option<string?> Model { get; } = new("--model") { Description = "model directory (default: models/default under the repository root, or $PIXELLLM_MODEL)" };
    public Option<string> Backend { get; } = new("--backend") { Description = "cpu (default), cpu-f64 (GEMMs summed in float64; slower) or cuda", DefaultValueFactory = _ => "cpu" };
    public Option<string?> Json { get; } = new("--json") { Description = "write the result as JSON to this file (schema in the README)" };
    public Option<string?> Overlay { get; } = new("--overlay") { Description = "write a PNG of the image with the trace, boxes and text drawn on it" };
    public Option<string?> Dump { get; } = new("--dump") { Description = "write every named intermediate (mid.*, out.*) to this .safetensors file" };
    public Option<string> Precision { get; } = new("--precision")
    {
        Description = "auto (default: as the model directory stores its weights), f32, bf16 (CUDA: weights and activations; CPU: Linear weights, computed in f32) or f16 (CUDA)",
        DefaultValueFactory = _ => "auto",
    };
    public Option<int> Threads { get; } = new("--threads") { Description = "CPU cores to use (default: all)", DefaultValueFactory = _ => 0 };
    public Option<bool> Profile { get; } = new("--profile") { Description = "time every op on the device (graph capture off) and print a per-op table on stderr" };
    public Option<string?> ProfileJson { get; } = new("--profile-json") { Description = "write the per-op profile as JSON to this file (implies profiling)" };
    public Option<bool> ProfileLaunches { get; } = new("--profile-launches") { Description = ProfileLaunchesDescription };
    public Option<string?> ProfileTimeline { get; } = new("--profile-timeline") { Description = ProfileTimelineDescription };
    public Option<int?> Beams { get; } = new("--beams")
    {
        Description = $"decode with N beams instead of the task's own (1 = greedy, at most {RequestOptions.MaxBeams}; default: the reference's, e.g. caption 4, box captions greedy)",
    };

    /// <summary>--profile-launches, on request commands and bench alike.</summary>
    public const string ProfileLaunchesDescription =
        "profile (implies --profile) and also time every kernel launch, listing kernels by device time (an event pair each, which adds to the op times)";

    /// <summary>--profile-timeline, on request commands and bench alike.</summary>
    public const string ProfileTimelineDescription =
        "write every profiled run as a timeline to this file (Chrome trace-event JSON: open it in ui.perfetto.dev or chrome://tracing; implies profiling)";

    public void AddTo(Command command)
    {
        command.Arguments.Add(Image);
        foreach (var o in new Option[] { Model, Backend, Precision, Json, Overlay, Dump, Threads, Profile, ProfileJson, ProfileLaunches, ProfileTimeline, Beams }) command.Options.Add(o);
    }

    public RequestArgs Read(ParseResult parse) => new(NotAnOption(parse.GetValue(Image)!, parse.CommandResult.Command.Name), parse.GetValue(Model), parse.GetValue(Backend)!,
        parse.GetValue(Json), parse.GetValue(Overlay), parse.GetValue(Dump), parse.GetValue(Threads), parse.GetValue(Profile) || parse.GetValue(ProfileLaunches),
        parse.GetValue(ProfileJson), parse.GetValue(ProfileLaunches), parse.GetValue(Beams), parse.GetValue(ProfileTimeline), parse.GetValue(Precision)!);

    /// <summary>
    /// The image path as given, unless it looks like an option and names no file: an option the command does not have
    /// lands among the image arguments, and "cannot read image --storage" would hide what went wrong.
    /// </summary>
    public static string NotAnOption(string path, string command) =>
        path.StartsWith('-') && path.Length > 1 && !File.Exists(path)
            ? throw new InvalidInputException($"{path}: pixelllm {command} has no such option (see pixelllm {command} --help), and no image file has that name")
            : path;

    /// <summary>The referring expressions as given, unless one starts with "--": an option the command does not have.</summary>
    public static string[] NotOptions(IEnumerable<string> texts, string command) => texts.Select(t => t.StartsWith("--", StringComparison.Ordinal)
        ? throw new InvalidInputException($"{t}: pixelllm {command} has no such option (see pixelllm {command} --help)")
        : t).ToArray();

    public const string ModelEnvironmentVariable = "PIXELLLM_MODEL";

    /// <summary>--model, else $PIXELLLM_MODEL, else models/default of the repository this CLI was built from.</summary>
    public static string ResolveModel(string? model)
    {
        if (!string.IsNullOrEmpty(model)) return model;
        var fromEnvironment = Environment.GetEnvironmentVariable(ModelEnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment)) return fromEnvironment;
        if (RepositoryRoot(AppContext.BaseDirectory) is not { } root) throw new ModelFileException("no model given (pass --model DIR or set PIXELLLM_MODEL)");
        var path = Path.Combine(root, "models", "default");
        return Directory.Exists(path) ? path
            : throw new ModelFileException($"no model given and the default model {path} is absent (pass --model DIR)");
    }

    /// <summary>The nearest folder at or above <paramref name="start"/> holding PixelLLM.Native.sln, or null.</summary>
    public static string? RepositoryRoot(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "PixelLLM.Native.sln"))) return dir.FullName;
        return null;
    }

    public static ComputePrecision ParsePrecision(string name) => ComputeNames.Precision(name, "--precision");

    public static ComputeBackend ParseBackend(string name) => ComputeNames.Backend(name, "--backend");
}
