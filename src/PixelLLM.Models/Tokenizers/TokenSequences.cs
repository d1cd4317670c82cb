namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// Fixed-length token sequences as scenic's data pipeline builds them (spec §5.3, errata D9). Both tokenizers
/// give the same layout: the tokens (plus EOS), padded with <see cref="ITextTokenizer.PadId"/> or cut at the end.
/// Cutting can drop the EOS — the reference does the same.
/// </summary>
public static class TokenSequences
{
    /// <summary>
    /// A context prompt (e.g. <c>"where is " + expression</c>): no BOS, EOS appended when
    /// <paramref name="appendEos"/> (every PixelLLM inference prompt), padded / truncated to <paramref name="length"/>.
    /// </summary>
    public static int[] EncodePrompt(this ITextTokenizer tokenizer, string text, int length, bool appendEos = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return FitToLength(tokenizer.Encode(text, appendEos), length, tokenizer.PadId);
    }

    /// <summary>
    /// A caption target / teacher-forcing input: <c>[BOS] + tokens + [EOS]</c>, padded / truncated to
    /// <paramref name="length"/>. For T5 this equals scenic's "pad to L, prepend the decoder start 0, drop the last
    /// slot"; for BERT it is dmvr's "[CLS] … [SEP], cut at the end".
    /// </summary>
    public static int[] EncodeCaptionTarget(this ITextTokenizer tokenizer, string text, int length)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var tokens = tokenizer.Encode(text, addEos: true);
        var withBos = new int[tokens.Length + 1];
        withBos[0] = tokenizer.BosId;
        tokens.CopyTo(withBos, 1);
        return FitToLength(withBos, length, tokenizer.PadId);
    }

    /// <summary>
    /// <see cref="EncodeCaptionTarget"/> of a given text that must fit whole (a teacher-forced decoder input): throws
    /// <see cref="Runtime.InvalidInputException"/> starting with <paramref name="what"/> when it is empty or BOS + its
    /// tokens + EOS exceed <paramref name="length"/>.
    /// </summary>
    public static int[] EncodeWholeTarget(this ITextTokenizer tokenizer, string text, int length, string what)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (string.IsNullOrWhiteSpace(text)) throw new Runtime.InvalidInputException($"{what} is empty");
        int needed = tokenizer.Encode(text, addEos: true).Length + 1;
        if (needed > length) throw new Runtime.InvalidInputException($"{what} is {needed} tokens with BOS and EOS, the model's decoder holds {length}");
        return tokenizer.EncodeCaptionTarget(text, length);
    }

    /// <summary>The first <paramref name="length"/> ids of <paramref name="ids"/>, padded with <paramref name="padId"/>.</summary>
    public static int[] FitToLength(ReadOnlySpan<int> ids, int length, int padId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        var result = new int[length];
        var kept = Math.Min(length, ids.Length);
        ids[..kept].CopyTo(result);
        if (padId != 0) result.AsSpan(kept).Fill(padId);
        return result;
    }
}
