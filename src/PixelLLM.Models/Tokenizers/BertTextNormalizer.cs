using System.Globalization;
using System.Text;

namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// The text normalisation of tensorflow_text's <c>BertTokenizer(lower_case=True)</c>, which dmvr's BertTokenizer
/// (PixelLLM's BERT path) uses: ICU NFKC_Casefold, then NFD, then every \p{Mn} removed (lower-casing, compatibility
/// folding such as "ﬁ" → "fi" and full-width → ASCII, and accent stripping in one go); afterwards every \p{Cc} or
/// \p{Cf} becomes a space.
/// </summary>
/// <remarks>
/// The engine runs with InvariantGlobalization, where <see cref="string.Normalize()"/> does not decompose, so the
/// first three steps come from a per-code-point table generated with ICU 72 (Unicode 15) by
/// <c>Data/generate_bert_lowercase_table.py</c>; Hangul syllables are decomposed algorithmically. Per code point is
/// exact because NFKC_Casefold is a per-code-point mapping and the final NFD undoes its composition; the only thing
/// not reproduced is NFD's canonical reordering of combining marks that survive the \p{Mn} removal (spacing marks
/// with a non-zero combining class — a few musical and Indic signs).
/// </remarks>
internal static class BertTextNormalizer
{
    private const string TableResource = "PixelLLM.Models.Tokenizers.bert_lowercase_table.txt";

    private static readonly Lazy<Dictionary<int, string>> table = new(LoadTable);

    /// <summary>Normalises <paramref name="text"/>; the result has no \p{Mn}, \p{Cc} or \p{Cf} characters.</summary>
    public static string Normalize(string text)
    {
        var map = table.Value;
        var output = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (TryDecomposeHangul(rune.Value, output)) continue;
            if (map.TryGetValue(rune.Value, out var mapped))
            {
                foreach (var r in mapped.EnumerateRunes()) AppendSpacingControls(r, output);
            }
            else
            {
                AppendSpacingControls(rune, output);
            }
        }
        return output.ToString();
    }

    private static void AppendSpacingControls(Rune rune, StringBuilder output)
    {
        var category = Rune.GetUnicodeCategory(rune);
        if (category is UnicodeCategory.Control or UnicodeCategory.Format) output.Append(' ');
        else output.Append(rune.ToString());
    }

    /// <summary>Canonical decomposition of a precomposed Hangul syllable into conjoining jamo (Unicode §3.12).</summary>
    private static bool TryDecomposeHangul(int codePoint, StringBuilder output)
    {
        const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7, VCount = 21, TCount = 28, SCount = 11172;
        var index = codePoint - SBase;
        if (index < 0 || index >= SCount) return false;
        output.Append((char)(LBase + index / (VCount * TCount)));
        output.Append((char)(VBase + index % (VCount * TCount) / TCount));
        var trailing = index % TCount;
        if (trailing != 0) output.Append((char)(TBase + trailing));
        return true;
    }

    private static Dictionary<int, string> LoadTable()
    {
        using var stream = typeof(BertTextNormalizer).Assembly.GetManifestResourceStream(TableResource)
            ?? throw new InvalidOperationException($"embedded resource {TableResource} is missing from the build");
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var map = new Dictionary<int, string>(9000);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var tab = line.IndexOf('\t');
            var source = int.Parse(line.AsSpan(0, tab), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            var target = new StringBuilder();
            foreach (var hex in line[(tab + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                target.Append(char.ConvertFromUtf32(int.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)));
            map[source] = target.ToString();
        }
        return map;
    }
}
