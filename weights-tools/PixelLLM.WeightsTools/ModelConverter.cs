using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.WeightsTools;

/// <summary>The checkpoint formats <see cref="ModelConverter"/> reads.</summary>
public enum SourceFormat
{
    /// <summary>A scenic PixelLLM checkpoint (Flax msgpack, or scenic-named safetensors).</summary>
    Scenic,
    /// <summary>segment-anything's .pth (image encoder, prompt encoder, mask decoder).</summary>
    Sam,
    /// <summary>A timm EVA02 state dict (.safetensors or .pth).</summary>
    TimmEva02,
    /// <summary>Hugging Face T5 / Flan-T5 safetensors (single or sharded) plus spiece.model.</summary>
    HfT5,
    /// <summary>A full PixelLLM from SAM + EVA02 + Flan-T5 (+ a scenic checkpoint, or random init for the trained parts).</summary>
    Assemble,
}

/// <summary>One conversion: what to read, where to write, how to store floats.</summary>
/// <param name="From">Source format.</param>
/// <param name="Inputs">Input checkpoint paths.</param>
/// <param name="OutDir">Directory to create.</param>
/// <param name="StorageType">Storage dtype of the output (F32, BF16 or F16).</param>
/// <param name="Config">Named config or JSON file of the model (full-model formats); null infers it where possible.</param>
/// <param name="Tokenizer">Tokenizer file; null looks beside the inputs.</param>
/// <param name="Seed">Seed of randomly initialised parts (assemble without a scenic checkpoint).</param>
public sealed record ConvertRequest(SourceFormat From, IReadOnlyList<string> Inputs, string OutDir, DType StorageType,
    string? Config = null, string? Tokenizer = null, int Seed = 0);

/// <summary>What a conversion wrote.</summary>
/// <param name="OutDir">The directory written.</param>
/// <param name="Tensors">Tensors written.</param>
/// <param name="Parameters">Parameters written.</param>
/// <param name="Notes">What the user should know (skipped tensors, modules randomly initialised, …).</param>
public sealed record ConvertResult(string OutDir, int Tensors, long Parameters, IReadOnlyList<string> Notes);

/// <summary>Runs a <see cref="ConvertRequest"/>: opens the inputs, plans the engine tensors, streams them into the output.</summary>
public static partial class ModelConverter
{
    /// <summary>Converts; every problem is a <see cref="ModelFileException"/> or <see cref="InvalidInputException"/> naming the file and tensor.</summary>
    public static ConvertResult Convert(ConvertRequest request, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Inputs.Count == 0) throw new InvalidInputException("convert: no input given");
        return request.From switch
        {
            SourceFormat.Scenic => ConvertScenic(request, backend),
            SourceFormat.Assemble => Assemble(request, backend),
            _ => ConvertComponent(request),
        };
    }

    private static ConvertResult ConvertScenic(ConvertRequest request, IBackend backend)
    {
        var input = Single(request);
        using var scenic = CheckpointSource.Open(input);
        var source = request.Config is null ? ConfigInference.ForScenic(scenic, input) : ModelConfigSource.Resolve(request.Config);
        var plan = ScenicConverter.Plan(scenic, source.Config, backend);
        // The language model decides the tokenizer: spiece.model for T5, a BERT vocab.txt for GIT.
        var manifest = new ModelDirectoryManifest(source.Json, request.StorageType, ModelDirectoryManifest.TokenizerFor(source.Config), source.Name);
        var tokenizer = TokenizerFor(request, manifest.TokenizerFileName);
        ModelDirectory.Write(request.OutDir, manifest, plan.Tensors, tokenizer, plan.Written);
        return new ConvertResult(request.OutDir, plan.Tensors.Count, plan.Tensors.Sum(t => t.Desc.ElementCount), plan.Notes);
    }

    private const string SentencePieceFile = "spiece.model";

    /// <summary>--tokenizer, else <paramref name="fileName"/> beside an input (or inside an input directory).</summary>
    private static string TokenizerFor(ConvertRequest request, string fileName)
    {
        if (request.Tokenizer is not null)
            return File.Exists(request.Tokenizer) ? request.Tokenizer : throw new InvalidInputException($"--tokenizer {request.Tokenizer}: no such file");
        foreach (var input in request.Inputs)
        {
            var dir = Directory.Exists(input) ? input : Path.GetDirectoryName(Path.GetFullPath(input))!;
            var candidate = Path.Combine(dir, fileName);
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidInputException($"convert: no {fileName} beside the inputs; pass --tokenizer FILE");
    }

    private static string Single(ConvertRequest request) => request.Inputs.Count == 1 ? request.Inputs[0]
        : throw new InvalidInputException($"convert --from {request.From}: expected one input, got {request.Inputs.Count}");
}
