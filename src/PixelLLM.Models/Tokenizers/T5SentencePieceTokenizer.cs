using System.Text;
using Microsoft.ML.Tokenizers;
using PixelLLM.Runtime;

namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// Flan-T5's SentencePiece unigram tokenizer (spec §5.3: pad 0, EOS 1, unk 2, no BOS; the decoder starts from the
/// pad id 0). Encoding runs Microsoft.ML.Tokenizers' SentencePiece unigram model (normaliser charsmap included);
/// decoding is <see cref="SentencePieceDecoder"/>, which reproduces the C++ library's text.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers 2.0.1 indexes its id tables with the model's bos_id unconditionally, so a model trained
/// without BOS (bos_id = −1, every T5 model) crashes with IndexOutOfRangeException. Protobuf merges a repeated
/// embedded message into the earlier one, so before handing the bytes over we append one extra <c>trainer_spec</c>
/// that aliases BOS to the EOS piece, and we never ask the library to add BOS or EOS. The alias only touches the
/// library's own special-id bookkeeping; segmentation never produces control pieces, and this class reports the
/// real ids from the untouched model. Three more differences from the C++ library are repaired around the library
/// (each checked against python sentencepiece in the tests): characters the normaliser's charsmap deletes (nmt_nfkc:
/// C0 controls, DEL) are removed beforehand because the library keeps them; runs of unknown characters are merged
/// into one unknown id; and byte fallback is done here (see <see cref="ForMicrosoftMlTokenizers"/>).
/// </remarks>
public sealed class T5SentencePieceTokenizer : ITextTokenizer
{
    private const int FieldTrainerSpec = 2;

    private readonly SentencePieceTokenizer encoder;
    private readonly SentencePieceDecoder decoder;
    private readonly int pieceCount;
    private readonly int[]? byteIds;  // byte value → piece id when the model falls back to bytes
    private readonly HashSet<int> deletedByNormalizer;

    private T5SentencePieceTokenizer(SentencePieceTokenizer encoder, SentencePieceModelProto model, int decoderStartId)
    {
        this.encoder = encoder;
        decoder = new SentencePieceDecoder(model);
        pieceCount = model.Pieces.Count;
        byteIds = model.ByteFallback ? BytePieceIds(model) : null;
        deletedByNormalizer = model.PrecompiledCharsmap.Length == 0 ? [] : PrecompiledCharsMap.Parse(model.PrecompiledCharsmap).DeletedCodePoints();
        EosId = model.EosId;
        PadId = model.PadId;
        UnkId = model.UnkId;
        BosId = decoderStartId;
    }

    /// <inheritdoc/>
    public int VocabSize => pieceCount;

    /// <summary>The decoder-start id: the pad id (0), as scenic's T5 tokenizer prepends it.</summary>
    public int BosId { get; }

    /// <inheritdoc/>
    public int EosId { get; }

    /// <inheritdoc/>
    public int PadId { get; }

    /// <inheritdoc/>
    public int UnkId { get; }

    /// <summary>Loads a SentencePiece <c>.model</c> file (e.g. T5's <c>spiece.model</c>).</summary>
    /// <exception cref="ModelFileException">The file is missing, unreadable, malformed or not a T5-style unigram model.</exception>
    public static T5SentencePieceTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            FileKind.RequireRegularInput(path, "a SentencePiece model file");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFileException($"SentencePiece model '{path}' cannot be read: {e.Message}", e);
        }
        return FromBytes(bytes, path);
    }

    /// <summary>Builds the tokenizer from the bytes of a SentencePiece <c>ModelProto</c>;
    /// <paramref name="sourceName"/> names it in error messages.</summary>
    /// <exception cref="ModelFileException">The bytes are not a usable T5-style unigram model.</exception>
    public static T5SentencePieceTokenizer FromBytes(byte[] bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        SentencePieceModelProto model;
        try
        {
            model = SentencePieceModelProto.Parse(bytes);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new ModelFileException($"SentencePiece model '{sourceName}' is not a valid ModelProto: {e.Message}", e);
        }
        Validate(model, sourceName);
        if (model.PrecompiledCharsmap.Length > 0)
        {
            try
            {
                PrecompiledCharsMap.Parse(model.PrecompiledCharsmap);
            }
            catch (FormatException e)
            {
                throw new ModelFileException($"SentencePiece model '{sourceName}': {e.Message}", e);
            }
        }
        SentencePieceTokenizer encoder;
        try
        {
            using var stream = new MemoryStream(ForMicrosoftMlTokenizers(bytes, model));
            encoder = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ModelFileException($"SentencePiece model '{sourceName}' was rejected by Microsoft.ML.Tokenizers: {e.Message}", e);
        }
        return new T5SentencePieceTokenizer(encoder, model, decoderStartId: model.PadId);
    }

    /// <inheritdoc/>
    public int[] Encode(string text, bool addEos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = encoder.EncodeToTokens(WithoutDeletedCharacters(text), out _, addBeginningOfSentence: false, addEndOfSentence: false);
        var ids = new List<int>(tokens.Count + 1);
        foreach (var token in tokens)
        {
            if (token.Id != UnkId)
            {
                ids.Add(token.Id);
            }
            else if (byteIds is not null)
            {
                // SentencePiece's byte fallback: an unknown character becomes the pieces of its UTF-8 bytes.
                foreach (var b in Encoding.UTF8.GetBytes(token.Value)) ids.Add(byteIds[b]);
            }
            else if (ids.Count == 0 || ids[^1] != UnkId)
            {
                // SentencePiece merges a run of unknown characters into one unknown piece; the library does not.
                ids.Add(UnkId);
            }
        }
        if (ids.Count == 0)
            throw new InvalidInputException($"text '{text}' yields no SentencePiece token (empty or only whitespace); a prompt needs at least one word");
        if (addEos) ids.Add(EosId);
        return [.. ids];
    }

    /// <summary>
    /// Drops a leading <see cref="BosId"/>, cuts at the first EOS and detokenises like SentencePiece's DecodeIds
    /// (pads inside vanish as control pieces). Ids at or beyond <see cref="VocabSize"/> — the padded logit ids, e.g.
    /// 32100..32127 — decode as the unknown piece, as seqio's vocabulary does.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        if (ids.Length > 0 && ids[0] == BosId) ids = ids[1..];
        var end = ids.IndexOf(EosId);
        if (end >= 0) ids = ids[..end];
        var clean = new int[ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            if (ids[i] < 0) throw new InvalidInputException($"token id {ids[i]} at position {i} is negative");
            clean[i] = ids[i] < pieceCount ? ids[i] : UnkId;
        }
        return decoder.Decode(clean);
    }

    /// <summary>Removes the characters the model's normaliser maps to "" (see <see cref="PrecompiledCharsMap"/>).</summary>
    private string WithoutDeletedCharacters(string text)
    {
        if (deletedByNormalizer.Count == 0) return text;
        StringBuilder? kept = null;
        var index = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (deletedByNormalizer.Contains(rune.Value))
                kept ??= new StringBuilder(text, 0, index, text.Length);
            else
                kept?.Append(rune.ToString());
            index += rune.Utf16SequenceLength;
        }
        return kept?.ToString() ?? text;
    }

    private static void Validate(SentencePieceModelProto model, string sourceName)
    {
        string? problem = null;
        var count = model.Pieces.Count;
        if (count == 0) problem = "it has no pieces";
        else if (model.ModelType != SentencePieceModelProto.ModelTypeUnigram) problem = $"model_type is {model.ModelType}, only unigram (1) is supported";
        else if (!IsPiece(model, model.UnkId, PieceType.Unknown)) problem = $"unk_id {model.UnkId} is not an unknown-type piece";
        else if (!IsPiece(model, model.EosId, PieceType.Control)) problem = $"eos_id {model.EosId} is not a control piece (T5 needs an EOS)";
        else if (!IsPiece(model, model.PadId, PieceType.Control)) problem = $"pad_id {model.PadId} is not a control piece (T5 pads and starts decoding with it)";
        else if (model.TreatWhitespaceAsSuffix) problem = "treat_whitespace_as_suffix is not supported";
        else if (model.HasDenormalizer) problem = "denormalizer rules are not supported";
        else if (model.ByteFallback && BytePieceIds(model) is null) problem = "byte_fallback is on but the 256 <0xHH> byte pieces are incomplete";
        // Microsoft.ML.Tokenizers' trie stops at NUL and then indexes past its arrays (IndexOutOfRangeException on every
        // Encode); the C++ library's trie keys are NUL-terminated too, so no real model has one.
        else if (model.Pieces.FindIndex(p => p.Piece.Contains('\0')) is var nul and >= 0) problem = $"piece {nul} contains a NUL character";
        if (problem is not null)
            throw new ModelFileException($"SentencePiece model '{sourceName}' cannot be used as a T5 tokenizer: {problem}");
    }

    private static bool IsPiece(SentencePieceModelProto model, int id, PieceType type) =>
        id >= 0 && id < model.Pieces.Count && model.Pieces[id].Type == type;

    /// <summary>
    /// The model bytes plus a trainer_spec override for the library: BOS aliased to EOS when the model has none
    /// (the library then maps "&lt;/s&gt;" to the EOS id twice, a no-op), and byte fallback switched off because
    /// 2.0.1 maps fallback bytes to wrong ids (it looks "&lt;0x00&gt;" up among normal pieces only); this class
    /// expands unknown characters into byte pieces itself.
    /// </summary>
    private static byte[] ForMicrosoftMlTokenizers(byte[] bytes, SentencePieceModelProto model)
    {
        var spec = new ProtoWriter();
        var changed = false;
        if (model.BosId < 0 || model.BosId >= model.Pieces.Count)
        {
            spec.Int32(SentencePieceModelProto.FieldBosId, model.EosId)
                .String(SentencePieceModelProto.FieldBosPiece, model.Pieces[model.EosId].Piece);
            changed = true;
        }
        if (model.ByteFallback)
        {
            spec.Int32(SentencePieceModelProto.FieldByteFallback, 0);
            changed = true;
        }
        if (!changed) return bytes;
        var suffix = new ProtoWriter().Bytes(FieldTrainerSpec, spec.ToArray()).ToArray();
        return [.. bytes, .. suffix];
    }

    private static int[]? BytePieceIds(SentencePieceModelProto model)
    {
        var ids = new int[256];
        Array.Fill(ids, -1);
        for (var i = 0; i < model.Pieces.Count; i++)
        {
            var piece = model.Pieces[i];
            if (piece.Type == PieceType.Byte && piece.Piece.Length == 6 &&
                byte.TryParse(piece.Piece.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var value))
                ids[value] = i;
        }
        return ids.Contains(-1) ? null : ids;
    }
}
