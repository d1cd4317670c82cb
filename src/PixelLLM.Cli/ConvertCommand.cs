using System.CommandLine;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.WeightsTools;

namespace PixelLLM.Cli;

/// <summary><c>pixelllm convert --from FORMAT INPUT... --out DIR</c>: checkpoints in the field's formats → the engine's model directory.</summary>
internal static class ConvertCommand
{
    private static readonly Dictionary<string, SourceFormat> Formats = new(StringComparer.Ordinal)
    {
        ["scenic"] = SourceFormat.Scenic, ["sam"] = SourceFormat.Sam, ["timm-eva02"] = SourceFormat.TimmEva02,
        ["hf-t5"] = SourceFormat.HfT5, ["assemble"] = SourceFormat.Assemble,
    };

    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "scenic | sam | timm-eva02 | hf-t5 | assemble", Required = true };
        var inputs = new Argument<string[]>("inputs") { Description = "checkpoint file(s) or directories", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "directory to create (an existing model directory is replaced)", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "storage dtype: f32 (default), bf16 or f16", DefaultValueFactory = _ => "f32" };
        var config = new Option<string?>("--config") { Description = "model config: a named config or a JSON file (scenic, assemble)" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "tokenizer file (default: spiece.model beside the inputs, vocab.txt for a GIT model)" };
        var seed = new Option<int>("--seed") { Description = "seed of randomly initialised parts (assemble)", DefaultValueFactory = _ => 0 };
        var command = new Command("convert", "Convert checkpoints (scenic, SAM, timm EVA02, HF T5) into the engine's model directory")
        {
            from, inputs, output, dtype, config, tokenizer, seed,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            var format = Formats.TryGetValue(parse.GetValue(from)!, out var f) ? f
                : throw new InvalidInputException($"--from '{parse.GetValue(from)}': expected one of {string.Join(", ", Formats.Keys)}");
            var storage = ModelDirectoryManifest.ParseDType(parse.GetValue(dtype))
                ?? throw new InvalidInputException($"--dtype '{parse.GetValue(dtype)}': expected f32, bf16 or f16");
            using var backend = new CpuBackend();
            var result = ModelConverter.Convert(new ConvertRequest(format, parse.GetValue(inputs)!, parse.GetValue(output)!, storage,
                parse.GetValue(config), parse.GetValue(tokenizer), parse.GetValue(seed)), backend);
            foreach (var note in result.Notes) Console.WriteLine($"convert: note: {note}");
            Console.WriteLine($"convert: wrote {Path.GetFullPath(result.OutDir)} ({result.Tensors} tensors, {result.Parameters:N0} parameters, {parse.GetValue(dtype)})");
            return 0;
        }));
        return command;
    }
}
