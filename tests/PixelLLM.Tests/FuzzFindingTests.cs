using PixelLLM.Fuzz;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// What each AFL finding (tests/PixelLLM.Fuzz/regressions) must now produce: the typed error with the line that names the
/// field. <see cref="FuzzRegressionTests"/> replays every finding generically; these pin the message of each fix.
/// </summary>
public class FuzzFindingTests
{
    private static byte[] Finding(string target, string file) =>
        File.ReadAllBytes(Path.Combine(RepoRoot.Path, "tests", "PixelLLM.Fuzz", "regressions", target, file));

    [Fact]
    public void NegativeSamDepthIsAConfigErrorNotAnArgumentOutOfRange()
    {
        // 2026-11-26 campaign, model-config: "sam": {"depth": -2} reached Enumerable.Range(0, depth) before validation.
        // The finding's git.mlp_ratio 665 is now out of range too, and read first; sam.depth -2 alone is in PixelLlmConfigBoundsTests.
        var e = Assert.Throws<ModelFileException>(() => FuzzTargets.All["model-config"](Finding("model-config", "crashes-0d2113f5264e")));
        Assert.Equal("pixelllm config: git.mlp_ratio must be a number in (0, 64], got 665", e.Message);
    }

    [Fact]
    public void SentencePiecePieceWithNulIsRejectedBeforeTheLibraryIndexesPastItsTrie()
    {
        // 2026-11-26 campaign, sentencepiece: piece 57 "▁red" mutated to "▁r\0\x7f" made every Encode throw
        // IndexOutOfRangeException inside Microsoft.ML.Tokenizers.
        var e = Assert.Throws<ModelFileException>(() => FuzzTargets.All["sentencepiece"](Finding("sentencepiece", "crashes-e30e38c00fdd")));
        Assert.EndsWith("cannot be used as a T5 tokenizer: piece 57 contains a NUL character", e.Message);
    }
}
