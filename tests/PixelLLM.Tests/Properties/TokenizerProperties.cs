using CsCheck;
using PixelLLM.Models.Tokenizers;

namespace PixelLLM.Tests.Properties;

/// <summary>
/// decode(encode(s)) == s on random text for the byte-fallback SentencePiece fixture (every string is representable), over
/// text already in the model's normal form (NFKC-stable characters, single inner spaces, no leading or trailing space).
/// </summary>
public class TokenizerProperties
{
    private static readonly Lazy<T5SentencePieceTokenizer> byteFallback = new(() =>
        T5SentencePieceTokenizer.Load(Path.Combine(Support.RepoRoot.Path, "tests", "PixelLLM.Tests", "Fixtures", "Tokenizers", "spm_bytefallback.model")));

    private static readonly Gen<string> Word = Gen.OneOf(
        Gen.Char["abcdefghijklmnopqrstuvwxyz"].Array[1, 9].Select(c => new string(c)),
        Gen.Char["0123456789"].Array[1, 4].Select(c => new string(c)),
        Gen.Char["äöüßéñçøåœ€☃漢字"].Array[1, 3].Select(c => new string(c)),
        Gen.Const(","), Gen.Const("."), Gen.Const(":"));

    [Fact]
    public void SentencePieceRoundTripsNormalisedText()
    {
        Word.Array[1, 12].Select(words => string.Join(' ', words)).Sample(text =>
        {
            var ids = byteFallback.Value.Encode(text, addEos: true);
            Assert.Equal(1, ids[^1]);
            Assert.Equal(text, byteFallback.Value.Decode(ids));
        }, iter: 300);
    }
}
