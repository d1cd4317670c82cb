using System.Text;

namespace PixelLLM.WeightsTools;

/// <summary>
/// A small SentencePiece unigram model with T5's special ids (pad 0, EOS 1, unk 2, no BOS) and made-up pieces, so a
/// random-weight model directory (<c>pixelllm init</c>) has a working tokenizer of the right size without shipping
/// Flan-T5's. Pieces are "▁", the lowercase letters, then letter strings with and without "▁", until the count is reached;
/// the normaliser is the identity.
/// </summary>
public static class SyntheticSentencePiece
{
    private const int PieceNormal = 1, PieceUnknown = 2, PieceControl = 3;

    /// <summary>Pieces the tokenizer of <paramref name="source"/> should have: t5.sp_pieces when stated, else the vocab size.</summary>
    public static int PieceCount(ModelConfigSource source) =>
        source.Json["t5"]?["sp_pieces"]?.GetValue<int>() is int pieces and > 0 ? Math.Min(pieces, source.Config.T5.VocabSize)
            : source.Config.T5.VocabSize;

    /// <summary>The serialized ModelProto with <paramref name="pieceCount"/> pieces (at least 4).</summary>
    public static byte[] Build(int pieceCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceCount, 4);
        var model = new MemoryStream();
        int id = 0;
        foreach (var piece in Pieces().Take(pieceCount))
        {
            int type = id switch { 0 or 1 => PieceControl, 2 => PieceUnknown, _ => PieceNormal };
            var entry = new MemoryStream();
            WriteString(entry, 1, piece);
            WriteTag(entry, 2, 5);
            entry.Write(BitConverter.GetBytes(id < 3 ? 0f : -(float)id));
            WriteVarintField(entry, 3, type);
            WriteBytes(model, 1, entry.ToArray());
            id++;
        }
        var trainer = new MemoryStream();
        WriteVarintField(trainer, 3, 1);                  // model_type = UNIGRAM
        WriteVarintField(trainer, 4, pieceCount);         // vocab_size
        WriteVarintField(trainer, 40, 2);                 // unk_id
        WriteVarintField(trainer, 41, -1);                // bos_id: none
        WriteVarintField(trainer, 42, 1);                 // eos_id
        WriteVarintField(trainer, 43, 0);                 // pad_id
        WriteBytes(model, 2, trainer.ToArray());
        var normalizer = new MemoryStream();
        WriteString(normalizer, 1, "identity");
        WriteVarintField(normalizer, 3, 1);               // add_dummy_prefix
        WriteVarintField(normalizer, 4, 1);               // remove_extra_whitespaces
        WriteBytes(model, 3, normalizer.ToArray());
        return model.ToArray();
    }

    private static IEnumerable<string> Pieces()
    {
        yield return "<pad>";
        yield return "</s>";
        yield return "<unk>";
        yield return "\u2581";
        for (int length = 1; ; length++)
            foreach (var word in Words(length))
            {
                yield return word;
                yield return "\u2581" + word;
            }
    }

    private static IEnumerable<string> Words(int length)
    {
        if (length == 0) { yield return ""; yield break; }
        foreach (var prefix in Words(length - 1))
            for (char c = 'a'; c <= 'z'; c++) yield return prefix + c;
    }

    private static void WriteTag(Stream s, int field, int wire) => WriteVarint(s, (ulong)((field << 3) | wire));

    private static void WriteVarintField(Stream s, int field, long value)
    {
        WriteTag(s, field, 0);
        WriteVarint(s, unchecked((ulong)value));
    }

    private static void WriteString(Stream s, int field, string value) => WriteBytes(s, field, Encoding.UTF8.GetBytes(value));

    private static void WriteBytes(Stream s, int field, byte[] value)
    {
        WriteTag(s, field, 2);
        WriteVarint(s, (ulong)value.Length);
        s.Write(value);
    }

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80) { s.WriteByte((byte)(value | 0x80)); value >>= 7; }
        s.WriteByte((byte)value);
    }
}
