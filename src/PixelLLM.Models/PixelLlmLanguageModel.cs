using System.Text;
using PixelLLM.Models.Tokenizers;
using PixelLLM.Runtime;

namespace PixelLLM.Models;

/// <summary>Which text model a PixelLLM carries (spec §5): scenic <c>text_decoder_name</c> "t5_*" or "git".</summary>
public enum LanguageModelKind
{
    /// <summary>Flan-T5 encoder–decoder with LoRA (<c>textual/t5_module</c>, spec §5.1).</summary>
    T5,
    /// <summary>BERT/GIT single-stack decoder (<c>textual/…</c>, spec §5.2).</summary>
    Git,
}

/// <summary>
/// The language model of a PixelLLM: exactly one of <see cref="T5"/> and <see cref="Git"/> is set.
/// </summary>
public sealed record PixelLlmLanguageModel
{
    private PixelLlmLanguageModel(T5Config? t5, GitDecoderConfig? git) => (T5, Git) = (t5, git);

    /// <summary>A T5 language model.</summary>
    public static PixelLlmLanguageModel OfT5(T5Config t5) => new(t5 ?? throw new ArgumentNullException(nameof(t5)), null);

    /// <summary>A BERT/GIT language model.</summary>
    public static PixelLlmLanguageModel OfGit(GitDecoderConfig git) => new(null, git ?? throw new ArgumentNullException(nameof(git)));

    public T5Config? T5 { get; }
    public GitDecoderConfig? Git { get; }
    public LanguageModelKind Kind => T5 is not null ? LanguageModelKind.T5 : LanguageModelKind.Git;
    /// <summary>Width of the text features (T5 d_model; GIT hidden).</summary>
    public int Width => T5?.DModel ?? Git!.Hidden;
    /// <summary>Logit width.</summary>
    public int VocabSize => T5?.VocabSize ?? Git!.VocabSize;
}

public sealed partial record PixelLlmConfig
{
    /// <summary>
    /// Checks the special ids this config carries against the model's tokenizer (the source of truth: vocab.txt or
    /// spiece.model): begin, end, pad and unk must be the tokenizer's, and the tokenizer may not know more ids than the
    /// logits have. Throws <see cref="ModelFileException"/> naming <paramref name="tokenizerSource"/> and the field.
    /// </summary>
    public void CheckTokenizer(ITextTokenizer tokenizer, string tokenizerSource)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        void Same(string field, int configured, int actual)
        {
            if (configured != actual)
                throw new ModelFileException($"{tokenizerSource}: config {field} is {configured} but the tokenizer's id is {actual}");
        }
        Same("begin_token_id", BeginTokenId, tokenizer.BosId);
        Same("end_token_id", EndTokenId, tokenizer.EosId);
        Same("pad_token_id", PadTokenId, tokenizer.PadId);
        if (UnkTokenId is int unk) Same("unk_token_id", unk, tokenizer.UnkId);
        if (tokenizer.VocabSize > LanguageModel.VocabSize)
            throw new ModelFileException($"{tokenizerSource}: the tokenizer knows {tokenizer.VocabSize} ids, the model's vocab_size is {LanguageModel.VocabSize}");
        foreach (var id in SpecialNonEosIds)
            if (id < 0 || id >= tokenizer.VocabSize || id == EndTokenId)
                throw new ModelFileException($"{tokenizerSource}: special_non_eos_ids entry {id} is not a non-EOS id of the tokenizer");
    }

    // The record's printer would read T5/Git, one of which throws; print the language model instead.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Canvas = {Canvas}, LanguageModel = {LanguageModel.Kind} {(object?)LanguageModel.T5 ?? LanguageModel.Git}, ");
        builder.Append($"Eva = {Eva}, Sam = {Sam}, Adapter = {Adapter}, PointHead = {PointHead}, ");
        builder.Append($"BeginTokenId = {BeginTokenId}, EndTokenId = {EndTokenId}, PadTokenId = {PadTokenId}, MaxCaptionLength = {MaxCaptionLength}");
        return true;
    }
}
