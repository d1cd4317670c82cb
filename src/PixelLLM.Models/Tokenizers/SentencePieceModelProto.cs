namespace PixelLLM.Models.Tokenizers;

/// <summary>The type of a SentencePiece vocabulary entry (<c>ModelProto.SentencePiece.Type</c>).</summary>
internal enum PieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>One vocabulary entry of a SentencePiece model.</summary>
internal readonly record struct SentencePiece(string Piece, float Score, PieceType Type);

/// <summary>
/// The parts of a SentencePiece <c>ModelProto</c> the tokenizer needs, read straight from the protobuf bytes:
/// the pieces with their types, the special ids and the flags that steer decoding. Field numbers and defaults
/// are those of sentencepiece_model.proto (e.g. bos_id defaults to 1 and pad_id to −1 when absent).
/// </summary>
internal sealed class SentencePieceModelProto
{
    // ModelProto fields.
    private const int FieldPieces = 1, FieldTrainerSpec = 2, FieldNormalizerSpec = 3, FieldDenormalizerSpec = 5;

    // ModelProto.SentencePiece fields.
    private const int FieldPiece = 1, FieldScore = 2, FieldType = 3;

    // TrainerSpec fields.
    internal const int FieldModelType = 3, FieldTreatWhitespaceAsSuffix = 24, FieldByteFallback = 35, FieldUnkId = 40,
        FieldBosId = 41, FieldEosId = 42, FieldPadId = 43, FieldUnkSurface = 44, FieldUnkPiece = 45,
        FieldBosPiece = 46, FieldEosPiece = 47, FieldPadPiece = 48;

    // NormalizerSpec fields.
    private const int FieldAddDummyPrefix = 3, FieldRemoveExtraWhitespaces = 4, FieldPrecompiledCharsmap = 2,
        FieldNormalizationRuleTsv = 6;

    /// <summary>TrainerSpec.ModelType.UNIGRAM.</summary>
    public const int ModelTypeUnigram = 1;

    public List<SentencePiece> Pieces { get; } = [];
    public int ModelType { get; private set; } = ModelTypeUnigram;
    public int UnkId { get; private set; }
    public int BosId { get; private set; } = 1;
    public int EosId { get; private set; } = 2;
    public int PadId { get; private set; } = -1;
    public string UnkPiece { get; private set; } = "<unk>";
    public string UnkSurface { get; private set; } = " \u2047 ";
    public bool ByteFallback { get; private set; }
    public bool TreatWhitespaceAsSuffix { get; private set; }
    public bool AddDummyPrefix { get; private set; } = true;
    public bool RemoveExtraWhitespaces { get; private set; } = true;

    /// <summary>The normaliser's precompiled charsmap (empty for the identity rule).</summary>
    public byte[] PrecompiledCharsmap { get; private set; } = [];

    /// <summary>True when the model carries a denormalizer (applied after decoding); T5's has none.</summary>
    public bool HasDenormalizer { get; private set; }

    /// <summary>Parses <paramref name="bytes"/>; throws <see cref="FormatException"/> on malformed protobuf.</summary>
    public static SentencePieceModelProto Parse(ReadOnlySpan<byte> bytes)
    {
        var model = new SentencePieceModelProto();
        var reader = new ProtoReader(bytes);
        while (!reader.AtEnd)
        {
            var field = reader.ReadTag(out var wire);
            switch (field, wire)
            {
                case (FieldPieces, ProtoReader.WireLengthDelimited): model.Pieces.Add(ParsePiece(reader.ReadBytes())); break;
                case (FieldTrainerSpec, ProtoReader.WireLengthDelimited): model.ReadTrainerSpec(reader.ReadBytes()); break;
                case (FieldNormalizerSpec, ProtoReader.WireLengthDelimited): model.ReadNormalizerSpec(reader.ReadBytes()); break;
                case (FieldDenormalizerSpec, ProtoReader.WireLengthDelimited): model.HasDenormalizer |= HasRules(reader.ReadBytes()); break;
                default: reader.Skip(wire); break;
            }
        }
        return model;
    }

    private static SentencePiece ParsePiece(ReadOnlySpan<byte> bytes)
    {
        var reader = new ProtoReader(bytes);
        string piece = "";
        float score = 0;
        var type = PieceType.Normal;
        while (!reader.AtEnd)
        {
            var field = reader.ReadTag(out var wire);
            switch (field, wire)
            {
                case (FieldPiece, ProtoReader.WireLengthDelimited): piece = reader.ReadString(); break;
                case (FieldScore, ProtoReader.WireFixed32): score = reader.ReadFloat(); break;
                case (FieldType, ProtoReader.WireVarint):
                    var raw = reader.ReadInt32();
                    type = Enum.IsDefined((PieceType)raw) ? (PieceType)raw : throw new FormatException($"unknown piece type {raw}");
                    break;
                default: reader.Skip(wire); break;
            }
        }
        return new SentencePiece(piece, score, type);
    }

    private void ReadTrainerSpec(ReadOnlySpan<byte> bytes)
    {
        var reader = new ProtoReader(bytes);
        while (!reader.AtEnd)
        {
            var field = reader.ReadTag(out var wire);
            switch (field, wire)
            {
                case (FieldModelType, ProtoReader.WireVarint): ModelType = reader.ReadInt32(); break;
                case (FieldTreatWhitespaceAsSuffix, ProtoReader.WireVarint): TreatWhitespaceAsSuffix = reader.ReadBool(); break;
                case (FieldByteFallback, ProtoReader.WireVarint): ByteFallback = reader.ReadBool(); break;
                case (FieldUnkId, ProtoReader.WireVarint): UnkId = reader.ReadInt32(); break;
                case (FieldBosId, ProtoReader.WireVarint): BosId = reader.ReadInt32(); break;
                case (FieldEosId, ProtoReader.WireVarint): EosId = reader.ReadInt32(); break;
                case (FieldPadId, ProtoReader.WireVarint): PadId = reader.ReadInt32(); break;
                case (FieldUnkSurface, ProtoReader.WireLengthDelimited): UnkSurface = reader.ReadString(); break;
                case (FieldUnkPiece, ProtoReader.WireLengthDelimited): UnkPiece = reader.ReadString(); break;
                default: reader.Skip(wire); break;
            }
        }
    }

    private void ReadNormalizerSpec(ReadOnlySpan<byte> bytes)
    {
        var reader = new ProtoReader(bytes);
        while (!reader.AtEnd)
        {
            var field = reader.ReadTag(out var wire);
            switch (field, wire)
            {
                case (FieldAddDummyPrefix, ProtoReader.WireVarint): AddDummyPrefix = reader.ReadBool(); break;
                case (FieldRemoveExtraWhitespaces, ProtoReader.WireVarint): RemoveExtraWhitespaces = reader.ReadBool(); break;
                case (FieldPrecompiledCharsmap, ProtoReader.WireLengthDelimited): PrecompiledCharsmap = reader.ReadBytes().ToArray(); break;
                default: reader.Skip(wire); break;
            }
        }
    }

    /// <summary>Whether a (de)normalizer spec carries any rule (a charsmap or a TSV).</summary>
    private static bool HasRules(ReadOnlySpan<byte> bytes)
    {
        var reader = new ProtoReader(bytes);
        var rules = false;
        while (!reader.AtEnd)
        {
            var field = reader.ReadTag(out var wire);
            if (wire == ProtoReader.WireLengthDelimited && field is FieldPrecompiledCharsmap or FieldNormalizationRuleTsv)
                rules |= reader.ReadBytes().Length > 0;
            else
                reader.Skip(wire);
        }
        return rules;
    }
}
