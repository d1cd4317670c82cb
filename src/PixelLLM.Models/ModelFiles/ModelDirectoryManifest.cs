using System.Text.Json.Nodes;
using PixelLLM.Runtime;

namespace PixelLLM.Models.ModelFiles;

/// <summary>Which tokenizer a model directory carries.</summary>
public enum TokenizerKind
{
    /// <summary>A SentencePiece model (<c>spiece.model</c>, Flan-T5).</summary>
    SentencePiece,
    /// <summary>A BERT WordPiece vocabulary (<c>vocab.txt</c>, the GIT variant).</summary>
    WordPiece,
}

/// <summary>What a model directory's <c>config.json</c> says besides the file list: the model, how floats are stored, the tokenizer.</summary>
/// <param name="Model">The scenic-style model config (the schema of a golden case's "config" object).</param>
/// <param name="StorageType">dtype of every float tensor in the weights files: F32, BF16 or F16.</param>
/// <param name="Tokenizer">The tokenizer's kind; its file name follows from it (<see cref="TokenizerFileName"/>).</param>
/// <param name="Name">The named config the model came from, if any (informational).</param>
public sealed record ModelDirectoryManifest(JsonObject Model, DType StorageType, TokenizerKind Tokenizer, string? Name = null)
{
    /// <summary>The format tag every config.json carries.</summary>
    public const string Format = "pixelllm-native/1";

    /// <summary>File name of the (single) weights file <see cref="ModelDirectory.Write(string, ModelDirectoryManifest, IEnumerable{ValueTuple{string, HostTensor}}, string)"/> creates.</summary>
    public const string WeightsFileName = "model.safetensors";

    /// <summary>"spiece.model" or "vocab.txt".</summary>
    public string TokenizerFileName => TokenizerFile(Tokenizer);

    /// <summary>The file name a tokenizer of <paramref name="kind"/> is stored under.</summary>
    public static string TokenizerFile(TokenizerKind kind) => kind == TokenizerKind.SentencePiece ? "spiece.model" : "vocab.txt";

    /// <summary>The tokenizer <paramref name="config"/>'s language model reads: SentencePiece for T5, WordPiece for BERT/GIT.</summary>
    public static TokenizerKind TokenizerFor(PixelLlmConfig config) =>
        config.LanguageModel.Kind == LanguageModelKind.Git ? TokenizerKind.WordPiece : TokenizerKind.SentencePiece;

    /// <summary>"f32", "bf16" or "f16".</summary>
    public static string DTypeName(DType dtype) => dtype switch
    {
        DType.F32 => "f32",
        DType.BF16 => "bf16",
        DType.F16 => "f16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "model directories store floats as f32, bf16 or f16"),
    };

    /// <summary>Parses "f32" / "bf16" / "f16"; null for anything else.</summary>
    public static DType? ParseDType(string? name) => name switch
    {
        "f32" => DType.F32,
        "bf16" => DType.BF16,
        "f16" => DType.F16,
        _ => null,
    };
}
