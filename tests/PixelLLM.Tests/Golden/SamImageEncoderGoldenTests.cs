using PixelLLM.Tests.Support;

// Not "PixelLLM.Tests.Golden": a namespace of that name would hide Support.Golden from every other test.
namespace PixelLLM.Tests.GoldenTests;

/// <summary>segment-anything ImageEncoderViT references: plain windows (cfgA) and zero-padded windows, batch 2 (cfgB).</summary>
public class SamImageEncoderGoldenTests
{
    [Theory]
    [InlineData("cfgA")]
    [InlineData("cfgB_padded_windows")]
    public void MatchesReference(string caseName)
    {
        var report = GoldenCaseAssert.Passes("sam_image_encoder", caseName);
        Assert.Contains(report.Checks, c => c.Name == "out.image_embeddings");
        Assert.Contains(report.Checks, c => c.Name == "mid.patch_embed");
    }

    [Fact]
    public void EveryCaseOnDiskIsCovered()
    {
        var onDisk = Directory.GetFiles(Path.Combine(Golden.Root, "sam_image_encoder"), "*.json").Select(Path.GetFileNameWithoutExtension).Order();
        Assert.Equal(["cfgA", "cfgB_padded_windows"], onDisk);
    }
}
