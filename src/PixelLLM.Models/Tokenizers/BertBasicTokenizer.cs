using System.Text;

namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// tensorflow_text's BERT basic tokenizer (lower_case=True, keep_whitespace=False): normalise
/// (<see cref="BertTextNormalizer"/>), split on RE2 <c>\s</c> = [\t\n\f\r ] (dropped), and split off every ASCII
/// punctuation character, every \p{P} character and every CJK ideograph as a token of its own.
/// </summary>
/// <remarks>
/// Only those five ASCII whitespace characters separate words, as in the reference: most other spaces (NBSP, em
/// space, ideographic space) were already folded to ' ' by NFKC, while e.g. U+1680 OGHAM SPACE MARK stays inside
/// the word. HuggingFace's BertTokenizer differs there and in lower-casing without NFKC ("ﬁ", full-width letters).
/// </remarks>
internal static class BertBasicTokenizer
{
    /// <summary>The words of <paramref name="text"/> after normalisation and splitting.</summary>
    public static List<string> Split(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        foreach (var rune in BertTextNormalizer.Normalize(text).EnumerateRunes())
        {
            if (rune.Value is '\t' or '\n' or '\f' or '\r' or ' ')
            {
                Flush(current, words);
            }
            else if (IsStandaloneToken(rune))
            {
                Flush(current, words);
                words.Add(rune.ToString());
            }
            else
            {
                current.Append(rune.ToString());
            }
        }
        Flush(current, words);
        return words;
    }

    private static void Flush(StringBuilder current, List<string> words)
    {
        if (current.Length == 0) return;
        words.Add(current.ToString());
        current.Clear();
    }

    private static bool IsStandaloneToken(Rune rune)
    {
        var c = rune.Value;
        if (c is >= '!' and <= '/' or >= ':' and <= '@' or >= '[' and <= '`' or >= '{' and <= '~') return true;
        return BertTextNormalizer.IsPunctuation(c) || IsCjkIdeograph(c);
    }

    /// <summary>The CJK blocks BERT splits character by character (same ranges in tensorflow_text and Google's BERT).</summary>
    private static bool IsCjkIdeograph(int c) =>
        c is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
