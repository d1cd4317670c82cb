using PixelLLM.Models;

namespace PixelLLM.WeightsTools;

/// <summary>
/// A BERT vocab.txt for a random-weight GIT/BERT model (<c>pixelllm init</c>): exactly the model's vocabulary size, the special
/// tokens at the ids the config names ([PAD] = pad_token_id, [UNK] = unk_token_id, [CLS] = begin_token_id, [SEP] =
/// end_token_id, [MASK] at the first other special_non_eos_id), then punctuation, letters, "##" letters and letter pairs;
/// any slot left over is "[unusedN]".
/// </summary>
public static class SyntheticWordPiece
{
    /// <summary>The vocab.txt lines for <paramref name="config"/> (a GIT/BERT configuration).</summary>
    public static IReadOnlyList<string> Lines(PixelLlmConfig config)
    {
        int size = config.LanguageModel.VocabSize;
        var lines = new string?[size];
        void Put(int? id, string token)
        {
            if (id is int i && i >= 0 && i < size && lines[i] is null) lines[i] = token;
        }
        Put(config.PadTokenId, "[PAD]");
        Put(config.UnkTokenId, "[UNK]");
        Put(config.BeginTokenId, "[CLS]");
        Put(config.EndTokenId, "[SEP]");
        var maskId = config.SpecialNonEosIds.Cast<int?>().FirstOrDefault(id => id is int i && i < size && lines[i] is null);
        Put(maskId, "[MASK]");
        using var words = Words().GetEnumerator();
        for (int i = 0; i < size; i++)
        {
            if (lines[i] is not null) continue;
            if (config.SpecialNonEosIds.Contains(i)) { lines[i] = $"[unused{i}]"; continue; }
            lines[i] = words.MoveNext() ? words.Current : $"[unused{i}]";
        }
        return lines!;
    }

    private static IEnumerable<string> Words()
    {
        foreach (var p in new[] { ":", ",", ".", "'", "-", "!", "?" }) yield return p;
        for (char c = 'a'; c <= 'z'; c++) yield return c.ToString();
        for (char c = 'a'; c <= 'z'; c++) yield return "##" + c;
        for (char a = 'a'; a <= 'z'; a++)
            for (char b = 'a'; b <= 'z'; b++)
                yield return $"{a}{b}";
    }
}
