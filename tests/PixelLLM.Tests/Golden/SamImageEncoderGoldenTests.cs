using PixelLLM.Backends.Cpu;
using PixelLLM.Models.Verification;
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
        using var backend = new CpuBackend();
        var report = GoldenVerifier.Verify(Path.Combine(Golden.Root, "sam_image_encoder", caseName), backend);
        var failed = report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: max abs {c.MaxAbsError:G3}, worst/allowed {c.WorstRatio:G3} {c.Note}");
        Assert.True(report.Passed, $"{caseName}: {string.Join("; ", failed)}");
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
