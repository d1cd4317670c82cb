namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// A text tokenizer as PixelLLM's language models see it: text ↔ token ids, with the special ids the decoder and
/// the point head need. Implementations: <see cref="T5SentencePieceTokenizer"/> (Flan-T5) and
/// <see cref="BertWordPieceTokenizer"/> (BERT/GIT). Fixed-length sequences (prompts, caption targets) are built by
/// <see cref="TokenSequences"/>.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>Number of ids the tokenizer itself knows (T5: SentencePiece pieces; BERT: vocab.txt lines). The
    /// model's logit width may be larger (T5 pads 32100 to 32128).</summary>
    int VocabSize { get; }

    /// <summary>The id the decoder starts from and that <see cref="Decode"/> drops at position 0
    /// (T5: 0, the pad id; BERT: [CLS]).</summary>
    int BosId { get; }

    /// <summary>End of sequence (T5: 1; BERT: [SEP]).</summary>
    int EosId { get; }

    /// <summary>Padding id of fixed-length sequences (0 for both models).</summary>
    int PadId { get; }

    /// <summary>The id of unknown text.</summary>
    int UnkId { get; }

    /// <summary>
    /// Tokenises <paramref name="text"/> without any BOS; appends <see cref="EosId"/> when <paramref name="addEos"/>.
    /// </summary>
    /// <exception cref="PixelLLM.Runtime.InvalidInputException">The text is empty or yields no token at all
    /// (e.g. only whitespace): PixelLLM never feeds a prompt without a word token, so this is treated as a caller
    /// error rather than silently producing a bare EOS.</exception>
    int[] Encode(string text, bool addEos);

    /// <summary>
    /// Turns generated ids back into text with the reference's rules: a <see cref="BosId"/> at position 0 is dropped,
    /// the sequence is cut at the first <see cref="EosId"/> (BERT also at the first pad), then detokenised.
    /// </summary>
    /// <exception cref="PixelLLM.Runtime.InvalidInputException">An id is negative or not representable.</exception>
    string Decode(ReadOnlySpan<int> ids);
}
