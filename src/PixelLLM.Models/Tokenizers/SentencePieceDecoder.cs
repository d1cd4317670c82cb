using System.Globalization;
using System.Text;

namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// SentencePiece id → text exactly as the C++ library's <c>DecodeIds</c> (0.1.97, the version the goldens were made
/// with): control pieces vanish, an unknown piece becomes the model's unk surface (" ⁇ "), runs of byte pieces are
/// decoded as UTF-8 (each invalid byte → U+FFFD), '▁' becomes a space, and the dummy-prefix space of the first word
/// is removed. Microsoft.ML.Tokenizers' own Decode skips unknown pieces instead, which would change the goldens' texts.
/// </summary>
internal sealed class SentencePieceDecoder
{
    private const char SpaceSymbol = '\u2581';

    private readonly SentencePiece[] pieces;
    private readonly byte[] byteValues;
    private readonly string unkSurface;
    private readonly bool stripLeadingSpace;
    private readonly bool removeExtraWhitespaces;

    public SentencePieceDecoder(SentencePieceModelProto model)
    {
        pieces = [.. model.Pieces];
        byteValues = new byte[pieces.Length];
        for (var i = 0; i < pieces.Length; i++)
            if (pieces[i].Type == PieceType.Byte) byteValues[i] = ParseBytePiece(pieces[i].Piece);
        unkSurface = model.UnkSurface;
        stripLeadingSpace = model.AddDummyPrefix || model.RemoveExtraWhitespaces;
        removeExtraWhitespaces = model.RemoveExtraWhitespaces;
    }

    /// <summary>Decodes ids that are all valid piece indices.</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder();
        var pendingBytes = new List<byte>();
        var expectLeadingSpace = true;  // still at the start: a leading '▁' is the dummy prefix
        var leadingSpaceConsumed = false;
        foreach (var id in ids)
        {
            var piece = pieces[id];
            if (piece.Type == PieceType.Byte)
            {
                pendingBytes.Add(byteValues[id]);
                continue;
            }
            FlushBytes(pendingBytes, text);
            // As in the C++ decoder: once one dummy-prefix space was eaten, or any text was produced, later
            // pieces keep their leading space.
            if (leadingSpaceConsumed || text.Length > 0) expectLeadingSpace = false;
            leadingSpaceConsumed = false;
            switch (piece.Type)
            {
                case PieceType.Control:
                    break;
                case PieceType.Unknown:
                    text.Append(unkSurface);
                    break;
                default:
                    var surface = piece.Piece.AsSpan();
                    if (expectLeadingSpace && stripLeadingSpace && surface.Length > 0 && surface[0] == SpaceSymbol)
                    {
                        surface = surface[1..];
                        // With remove_extra_whitespaces every leading space is extra, so keep expecting one.
                        leadingSpaceConsumed = !removeExtraWhitespaces;
                    }
                    foreach (var c in surface) text.Append(c == SpaceSymbol ? ' ' : c);
                    break;
            }
        }
        FlushBytes(pendingBytes, text);
        return text.ToString();
    }

    private static byte ParseBytePiece(string piece)
    {
        // Byte pieces are spelled "<0xHH>".
        if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>' &&
            byte.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            return value;
        throw new FormatException($"byte piece '{piece}' is not of the form <0xHH>");
    }

    /// <summary>UTF-8 decoding one scalar at a time; a byte that does not start a valid sequence becomes U+FFFD
    /// on its own (SentencePiece's rule, unlike .NET's maximal-subpart replacement).</summary>
    private static void FlushBytes(List<byte> bytes, StringBuilder text)
    {
        var offset = 0;
        while (offset < bytes.Count)
        {
            if (TryDecodeScalar(bytes, offset, out var scalar, out var length))
            {
                text.Append(char.ConvertFromUtf32(scalar));
                offset += length;
            }
            else
            {
                text.Append('\uFFFD');
                offset += 1;
            }
        }
        bytes.Clear();
    }

    private static bool TryDecodeScalar(List<byte> bytes, int offset, out int scalar, out int length)
    {
        int lead = bytes[offset];
        (length, scalar, var min) = lead switch
        {
            < 0x80 => (1, lead, 0),
            >= 0xC0 and < 0xE0 => (2, lead & 0x1F, 0x80),
            >= 0xE0 and < 0xF0 => (3, lead & 0x0F, 0x800),
            >= 0xF0 and < 0xF8 => (4, lead & 0x07, 0x10000),
            _ => (0, 0, 0),
        };
        if (length == 0 || offset + length > bytes.Count) return false;
        for (var i = 1; i < length; i++)
        {
            var next = bytes[offset + i];
            if ((next & 0xC0) != 0x80) return false;
            scalar = scalar << 6 | (next & 0x3F);
        }
        return scalar >= min && scalar <= 0x10FFFF && scalar is < 0xD800 or > 0xDFFF;
    }
}
