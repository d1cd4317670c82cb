using System.CommandLine;
using PixelLLM.Models.ModelFiles;
using PixelLLM.WeightsTools;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm init --config NAME|FILE --out DIR</c>: a model directory of seeded random weights for any configuration.</summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "a named config, or a JSON file (scenic-style model object, golden case, or model config.json)", Required = true };
        var output = new Option<string>("--out") { Description = "model directory to create (an existing model directory is replaced)", Required = true };
        var seed = new Option<int>("--seed") { Description = "random seed (same seed, same weights)", DefaultValueFactory = _ => 0 };
        var dtype = new Option<string>("--dtype") { Description = "storage dtype: f32 (default), bf16 or f16", DefaultValueFactory = _ => "f32" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "spiece.model to copy (default: a synthetic one sized to the vocabulary)" };
        var command = new Command("init", "Create a model directory with seeded random weights for a configuration")
        {
            config, output, seed, dtype, tokenizer,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var storage = ModelDirectoryManifest.ParseDType(parse.GetValue(dtype))
                ?? throw new Runtime.InvalidInputException($"--dtype '{parse.GetValue(dtype)}': expected f32, bf16 or f16");
            var source = ModelConfigSource.Resolve(parse.GetValue(config)!);
            var dir = parse.GetValue(output)!;
            RandomModel.Write(source, dir, parse.GetValue(seed), storage, parse.GetValue(tokenizer));
            using var model = ModelDirectory.Open(dir);
            long parameters = model.StoredWeights.Names.Sum(n => model.StoredWeights.Describe(n).ElementCount);
            Console.WriteLine($"init: wrote {model.Path} ({parameters:N0} parameters, {parse.GetValue(dtype)}, seed {parse.GetValue(seed)})");
            return 0;
        }));
        return command;
    }
}
