using PixelLLM.Fuzz;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// CI's share of the fuzzing campaign (tests/PixelLLM.Fuzz/campaign.sh): every seed of every target still parses, and every
/// input a campaign ever found (regressions/&lt;target&gt;/) is now accepted or cleanly rejected with a typed error.
/// </summary>
public class FuzzRegressionTests
{
    private static string FuzzDirectory(string sub) => Path.Combine(RepoRoot.Path, "tests", "PixelLLM.Fuzz", sub);

    public static TheoryData<string> Targets() => new(FuzzTargets.All.Keys);

    [Theory]
    [MemberData(nameof(Targets))]
    public void EverySeedIsAccepted(string target)
    {
        var seeds = Directory.GetFiles(Path.Combine(FuzzDirectory("corpus"), target));
        Assert.NotEmpty(seeds);
        foreach (var seed in seeds)
        {
            var bytes = File.ReadAllBytes(seed);
            var exception = Record.Exception(() => FuzzTargets.All[target](bytes));
            Assert.True(exception is null, $"{Path.GetFileName(seed)}: {exception?.GetType().Name}: {exception?.Message}");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void EveryRecordedFindingIsHandled(string target)
    {
        var directory = Path.Combine(FuzzDirectory("regressions"), target);
        if (!Directory.Exists(directory)) return;
        foreach (var input in Directory.GetFiles(directory))
        {
            var finding = FuzzTargets.Check(target, File.ReadAllBytes(input));
            Assert.True(finding is null, $"{Path.GetFileName(input)}: {finding?.GetType().Name}: {finding?.Message}");
        }
    }

    [Fact]
    public void EveryTargetHasACorpusAndNoStrayFolders()
    {
        var folders = Directory.GetDirectories(FuzzDirectory("corpus")).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(FuzzTargets.All.Keys.Order(StringComparer.Ordinal), folders);
    }
}
