using System.Globalization;
using System.Text;

namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// The text normalisation of tensorflow_text's <c>BertTokenizer(lower_case=True)</c>, which dmvr's BertTokenizer
/// (PixelLLM's BERT path) uses: ICU NFKC_Casefold, then NFD, then every \p{Mn} removed (lower-casing, compatibility
/// folding such as "ﬁ" → "fi" and full-width → ASCII, and accent stripping in one go); afterwards every \p{Cc} or
/// \p{Cf} becomes a space (character classes also from the table, see <see cref="IsPunctuation"/>).
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

    private static readonly Lazy<Tables> tables = new(LoadTables);

    private sealed record Tables(Dictionary<int, string> Map, HashSet<int> Punctuation, HashSet<int> Controls);

    /// <summary>Whether <paramref name="codePoint"/> is \p{P} in the table's Unicode version (ICU 72 / Unicode 15),
    /// independent of the runtime's own character data.</summary>
    public static bool IsPunctuation(int codePoint) => tables.Value.Punctuation.Contains(codePoint);

    /// <summary>Normalises <paramref name="text"/>; the result has no \p{Mn}, \p{Cc} or \p{Cf} characters.</summary>
    public static string Normalize(string text)
    {
        var (map, _, controls) = tables.Value;
        var output = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (TryDecomposeHangul(rune.Value, output)) continue;
            if (map.TryGetValue(rune.Value, out var mapped))
            {
                foreach (var r in mapped.EnumerateRunes()) AppendSpacingControls(r, controls, output);
            }
            else
            {
                AppendSpacingControls(rune, controls, output);
            }
        }
        return output.ToString();
    }

    private static void AppendSpacingControls(Rune rune, HashSet<int> controls, StringBuilder output)
    {
        if (controls.Contains(rune.Value)) output.Append(' ');
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

    private static Tables LoadTables()
    {
        using var stream = typeof(BertTextNormalizer).Assembly.GetManifestResourceStream(TableResource)
            ?? throw new InvalidOperationException($"embedded resource {TableResource} is missing from the build");
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var map = new Dictionary<int, string>(12000);
        var punctuation = new HashSet<int>();
        var controls = new HashSet<int>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var tab = line.IndexOf('\t');
            var classes = line.StartsWith("punct\t", StringComparison.Ordinal) ? punctuation
                : line.StartsWith("control\t", StringComparison.Ordinal) ? controls : null;
            if (classes is not null)
            {
                var span = line.AsSpan(tab + 1);
                var dots = span.IndexOf("..");
                for (int cp = ParseHex(span[..dots]), end = ParseHex(span[(dots + 2)..]); cp <= end; cp++) classes.Add(cp);
                continue;
            }
            var source = line.AsSpan(0, tab);
            var range = source.IndexOf("..");
            var first = ParseHex(range < 0 ? source : source[..range]);
            var last = range < 0 ? first : ParseHex(source[(range + 2)..]);
            var target = new StringBuilder();
            foreach (var hex in line[(tab + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                target.Append(char.ConvertFromUtf32(ParseHex(hex)));
            for (var cp = first; cp <= last; cp++) map[cp] = target.ToString();
        }
        return new Tables(map, punctuation, controls);
    }

    private static int ParseHex(ReadOnlySpan<char> hex) => int.Parse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
}
