using System.Buffers.Binary;
using System.Text;

namespace PixelLLM.Models.Tokenizers;

/// <summary>
/// Read-only access to a SentencePiece <c>precompiled_charsmap</c>: a uint32 trie size, a Darts-clone double-array
/// trie over UTF-8 keys, then the NUL-terminated replacement strings the trie's values point into.
/// </summary>
/// <remarks>
/// Used to find the characters the normaliser deletes (mapped to ""): nmt_nfkc removes most C0 controls and DEL,
/// but Microsoft.ML.Tokenizers 2.0.1 ignores empty replacements and keeps them (they would become unknown pieces).
/// </remarks>
internal sealed class PrecompiledCharsMap
{
    private readonly uint[] units;
    private readonly byte[] replacements;

    private PrecompiledCharsMap(uint[] units, byte[] replacements)
    {
        this.units = units;
        this.replacements = replacements;
    }

    /// <summary>Parses the blob; throws <see cref="FormatException"/> when it is malformed.</summary>
    public static PrecompiledCharsMap Parse(ReadOnlySpan<byte> blob)
    {
        if (blob.Length < 4) throw new FormatException("precompiled_charsmap is shorter than its 4-byte header");
        var trieBytes = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        if (trieBytes % 4 != 0 || trieBytes > (uint)(blob.Length - 4))
            throw new FormatException($"precompiled_charsmap trie size {trieBytes} does not fit the {blob.Length}-byte blob");
        var units = new uint[trieBytes / 4];
        for (var i = 0; i < units.Length; i++) units[i] = BinaryPrimitives.ReadUInt32LittleEndian(blob[(4 + 4 * i)..]);
        return new PrecompiledCharsMap(units, blob[(4 + (int)trieBytes)..].ToArray());
    }

    /// <summary>Every code point whose own replacement is the empty string.</summary>
    public HashSet<int> DeletedCodePoints()
    {
        var deleted = new HashSet<int>();
        Span<byte> key = stackalloc byte[4];
        for (var cp = 0; cp <= 0x10FFFF; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) continue;
            var length = new Rune(cp).EncodeToUtf8(key);
            if (TryExactMatch(key[..length], out var offset) && offset < replacements.Length && replacements[offset] == 0)
                deleted.Add(cp);
        }
        return deleted;
    }

    /// <summary>Looks <paramref name="key"/> up as a whole key; returns the offset of its replacement.</summary>
    private bool TryExactMatch(ReadOnlySpan<byte> key, out int replacementOffset)
    {
        replacementOffset = -1;
        if (units.Length == 0) return false;
        var position = Offset(units[0]);
        for (var i = 0; i < key.Length; i++)
        {
            position ^= key[i];
            if (position >= (uint)units.Length) return false;
            var unit = units[position];
            if (Label(unit) != key[i]) return false;
            position ^= Offset(unit);
            if (i == key.Length - 1 && HasLeaf(unit))
            {
                if (position >= (uint)units.Length) return false;
                replacementOffset = (int)Value(units[position]);
                return true;
            }
        }
        return false;
    }

    // Darts-clone unit layout.
    private static bool HasLeaf(uint unit) => (unit >> 8 & 1) == 1;
    private static uint Value(uint unit) => unit & 0x7FFFFFFFu;
    private static uint Label(uint unit) => unit & 0x800000FFu;
    private static uint Offset(uint unit) => unit >> 10 << (int)((unit & 1u << 9) >> 6);
}
