using PixelLLM.Backends.Cuda.Device;

namespace PixelLLM.Tests;

/// <summary>GEMM tuning's choices kept on disk: read back by a later process, ignored when they cannot apply or the file is damaged.</summary>
public sealed class GemmTuningCacheTests : IDisposable
{
    private readonly string folder = Path.Combine(Path.GetTempPath(), $"pixelllm-tuning-{Guid.NewGuid():N}");
    private string File_ => Path.Combine(folder, "sub", "cache.json");

    [Fact]
    public void ChoicesSurviveToTheNextProcessAndApplyOnlyToTheSameCandidateCount()
    {
        new GemmTuningCache(File_).Set("40x6144x2048 bf16", 9, 3);
        var reread = new GemmTuningCache(File_);
        Assert.True(reread.TryGet("40x6144x2048 bf16", 9, out int choice));
        Assert.Equal(3, choice);
        Assert.False(reread.TryGet("40x6144x2048 bf16", 8, out _)); // another library or card offered other candidates
        Assert.False(reread.TryGet("22x2048x2048 bf16", 9, out _));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(File_)!, "*.tmp"));
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("{\"version\": 1, \"entries\": {\"k\": {\"candidates\": \"x\"}}}")]
    [InlineData("{\"version\": 99, \"entries\": {\"k\": {\"candidates\": 2, \"choice\": 1}}}")]
    [InlineData("{\"version\": 1, \"entries\": {\"k\": {\"candidates\": 2, \"choice\": 5}}}")]
    public void ADamagedOrForeignFileIsAnEmptyCache(string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(File_)!);
        File.WriteAllText(File_, text);
        var cache = new GemmTuningCache(File_);
        Assert.False(cache.TryGet("k", 2, out _));
        cache.Set("k", 2, 1); // and is rewritten whole
        Assert.True(new GemmTuningCache(File_).TryGet("k", 2, out int choice));
        Assert.Equal(1, choice);
    }

    [Fact]
    public void AnUnwritableLocationOnlyCostsTimingAgain()
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "sub"), "a file where the folder should be");
        var cache = new GemmTuningCache(File_);
        cache.Set("k", 2, 1);
        Assert.True(cache.TryGet("k", 2, out _)); // still remembered in this process
    }

    [Fact]
    public void TunerTakesCachedChoicesUnlessRetiming()
    {
        new GemmTuningCache(File_).Set("key", 3, 2);
        using var cached = new GemmAlgorithmTuner(null!, () => 0, () => false, cache: new GemmTuningCache(File_));
        Assert.True(cached.TryCached("key", "shape", 3, out int choice));
        Assert.Equal(2, choice);
        Assert.True(Assert.Single(cached.Results).Cached);

        using var fresh = new GemmAlgorithmTuner(null!, () => 0, () => false, cache: new GemmTuningCache(File_), retime: true);
        Assert.False(fresh.TryCached("key", "shape", 3, out _));
        Assert.Equal(1, fresh.Choose("shape", "key", [0.05f, 0.03f, 0.04f]));
        Assert.True(new GemmTuningCache(File_).TryGet("key", 3, out int stored));
        Assert.Equal(1, stored);
    }

    [Fact]
    public void DefaultPathNamesCardArchAndLibraryInASafeFileName()
    {
        var path = GemmTuningCache.DefaultPath("NVIDIA H200 (141 GB)", "sm_90", "13.1.0");
        Assert.EndsWith(Path.Combine("pixelllm", "gemm-tuning", "NVIDIA_H200__141_GB_-sm_90-cublasLt-13.1.0-coldL2.json"), path);
    }

    public void Dispose()
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }
}
