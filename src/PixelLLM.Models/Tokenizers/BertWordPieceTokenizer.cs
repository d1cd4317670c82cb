using System.Text;
using PixelLLM.Runtime;

namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// BERT uncased WordPiece as PixelLLM's BERT/GIT decoder uses it through dmvr's <c>BertTokenizer</c> (spec §5.3,
/// errata D9): tensorflow_text basic tokenisation with lower_case (<see cref="BertBasicTokenizer"/>), then greedy
/// longest-match WordPiece with "##" continuations; a word longer than <see cref="MaxBytesPerWord"/> UTF-8 bytes, or
/// one that cannot be segmented, becomes a single [UNK]. Special ids come from the vocabulary file
/// ([PAD]/[UNK]/[CLS]/[SEP] are 0/100/101/102 in bert-base-uncased, 0/1/2/3 in the golden tiny vocabulary).
/// </summary>
public sealed class BertWordPieceTokenizer : ITextTokenizer
{
    /// <summary>tensorflow_text's <c>max_bytes_per_word</c> default, measured on the normalised word in UTF-8
    /// (HuggingFace counts 100 characters instead; they differ only for non-ASCII words).</summary>
    public const int MaxBytesPerWord = 100;

    private const string ContinuationPrefix = "##";

    private readonly string[] words;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> wordStarts;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> continuations;

    private BertWordPieceTokenizer(string[] words, Dictionary<string, int> index)
    {
        this.words = words;
        var starts = new Dictionary<string, int>(StringComparer.Ordinal);
        var rest = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (word, id) in index)
        {
            if (word.StartsWith(ContinuationPrefix, StringComparison.Ordinal)) rest[word[ContinuationPrefix.Length..]] = id;
            starts[word] = id;
        }
        wordStarts = starts.GetAlternateLookup<ReadOnlySpan<char>>();
        continuations = rest.GetAlternateLookup<ReadOnlySpan<char>>();
        PadId = index["[PAD]"];
        UnkId = index["[UNK]"];
        BosId = index["[CLS]"];
        EosId = index["[SEP]"];
    }

    /// <inheritdoc/>
    public int VocabSize => words.Length;

    /// <summary>[CLS].</summary>
    public int BosId { get; }

    /// <summary>[SEP].</summary>
    public int EosId { get; }

    /// <summary>[PAD].</summary>
    public int PadId { get; }

    /// <summary>[UNK].</summary>
    public int UnkId { get; }

    /// <summary>Loads a BERT <c>vocab.txt</c> (one token per line, line i = id i).</summary>
    /// <exception cref="ModelFileException">The file is missing, not UTF-8, has duplicate entries or lacks
    /// [PAD], [UNK], [CLS] or [SEP].</exception>
    public static BertWordPieceTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            FileKind.RequireRegularInput(path, "a vocab.txt file");
            text = File.ReadAllText(path, new UTF8Encoding(false, throwOnInvalidBytes: true));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            throw new ModelFileException($"BERT vocabulary '{path}' cannot be read: {e.Message}", e);
        }
        var lines = text.Split('\n');
        // A final newline ends the last entry rather than starting an empty one.
        if (lines.Length > 0 && lines[^1].Length == 0) lines = lines[..^1];
        return FromLines(lines, path);
    }

    /// <summary>Builds the tokenizer from vocabulary lines (surrounding whitespace is ignored, as dmvr strips it);
    /// <paramref name="sourceName"/> names the vocabulary in error messages.</summary>
    /// <exception cref="ModelFileException">Duplicate entries or a missing special token.</exception>
    public static BertWordPieceTokenizer FromLines(IReadOnlyList<string> lines, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var words = new string[lines.Count];
        var index = new Dictionary<string, int>(lines.Count, StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            words[i] = lines[i].Trim();
            if (!index.TryAdd(words[i], i))
                throw new ModelFileException($"BERT vocabulary '{sourceName}': line {i + 1} repeats '{words[i]}' (first at line {index[words[i]] + 1}); entries must be unique");
        }
        var missing = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]" }.Where(t => !index.ContainsKey(t)).ToArray();
        if (missing.Length > 0)
            throw new ModelFileException($"BERT vocabulary '{sourceName}' ({words.Length} entries) lacks {string.Join(", ", missing)}");
        return new BertWordPieceTokenizer(words, index);
    }

    /// <inheritdoc/>
    public int[] Encode(string text, bool addEos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        foreach (var word in BertBasicTokenizer.Split(text)) AppendWordPieces(word, ids);
        if (ids.Count == 0)
            throw new InvalidInputException($"text '{text}' yields no WordPiece token (empty or only whitespace/control characters); a prompt needs at least one word");
        if (addEos) ids.Add(EosId);
        return [.. ids];
    }

    /// <summary>
    /// dmvr's <c>indices_to_string</c> after dropping a leading [CLS]: cut at the first [PAD] or [SEP], join the
    /// tokens with spaces and remove every " ##" (a "##piece" at the very start keeps its "##").
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        if (ids.Length > 0 && ids[0] == BosId) ids = ids[1..];
        var text = new StringBuilder();
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            if (id == PadId || id == EosId) break;
            if ((uint)id >= (uint)words.Length)
                throw new InvalidInputException($"token id {id} at position {i} is outside the BERT vocabulary of {words.Length} entries");
            if (i > 0) text.Append(' ');
            text.Append(words[id]);
        }
        return text.Replace(" " + ContinuationPrefix, "").ToString();
    }

    private void AppendWordPieces(string word, List<int> ids)
    {
        if (Encoding.UTF8.GetByteCount(word) > MaxBytesPerWord)
        {
            ids.Add(UnkId);
            return;
        }
        var firstPiece = ids.Count;
        var start = 0;
        while (start < word.Length)
        {
            var lookup = start == 0 ? wordStarts : continuations;
            var end = word.Length;
            var found = -1;
            while (end > start)
            {
                if (lookup.TryGetValue(word.AsSpan(start, end - start), out found)) break;
                found = -1;
                end--;
                // Never split a surrogate pair: step back over the low half too.
                if (end > start && char.IsLowSurrogate(word[end]) && char.IsHighSurrogate(word[end - 1])) end--;
            }
            if (found < 0)
            {
                ids.RemoveRange(firstPiece, ids.Count - firstPiece);
                ids.Add(UnkId);
                return;
            }
            ids.Add(found);
            start = end;
        }
    }
}
