using PixelLLM.Runtime;

namespace PixelLLM.Tests.Resources;

/// <summary>Available memory from a fake /proc and /sys/fs/cgroup tree: MemAvailable, cgroup v1 and v2 headroom, parent limits, sizes.</summary>
public sealed class AvailableMemoryTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), $"pixelllm-mem-{Guid.NewGuid():N}");

    private void Write(string relative, string text)
    {
        var path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private const string MemInfo = "MemTotal:       24683620 kB\nMemFree:        15559296 kB\nMemAvailable:   22860388 kB\nBuffers: 1 kB\n";

    [Fact]
    public void WithoutCgroupLimitsItIsMemAvailable()
    {
        Write("proc/meminfo", MemInfo);
        Write("proc/self/cgroup", "0::/\n");
        Write("sys/fs/cgroup/memory.max", "max\n");
        var m = AvailableMemory.Detect(root)!;
        Assert.Equal(22860388L * 1024, m.Bytes);
        Assert.StartsWith("MemAvailable 21.8 GiB", m.Source);
    }

    [Fact]
    public void CgroupV2HeadroomCountsInactiveFilePagesAsReclaimable()
    {
        Write("proc/meminfo", MemInfo);
        Write("proc/self/cgroup", "0::/jobs/a\n");
        Write("sys/fs/cgroup/jobs/a/memory.max", $"{8L << 30}\n");
        Write("sys/fs/cgroup/jobs/a/memory.current", $"{7L << 30}\n");
        Write("sys/fs/cgroup/jobs/a/memory.stat", $"anon 123\nfile {3L << 30}\ninactive_file {1L << 29}\n");
        var m = AvailableMemory.Detect(root)!;
        Assert.Equal((1L << 30) + (1L << 29), m.Bytes);
        Assert.Equal("cgroup limit 8.0 GiB − 6.5 GiB in use", m.Source);
    }

    [Fact]
    public void AParentGroupsTighterLimitBinds()
    {
        Write("proc/meminfo", MemInfo);
        Write("proc/self/cgroup", "0::/outer/inner\n");
        Write("sys/fs/cgroup/outer/memory.max", $"{2L << 30}\n");
        Write("sys/fs/cgroup/outer/memory.current", $"{1L << 30}\n");
        Write("sys/fs/cgroup/outer/inner/memory.max", "max\n");
        Write("sys/fs/cgroup/outer/inner/memory.current", $"{1L << 30}\n");
        Assert.Equal(1L << 30, AvailableMemory.Detect(root)!.Bytes);
    }

    [Fact]
    public void CgroupV1LimitAndNoLimitSentinel()
    {
        Write("proc/meminfo", MemInfo);
        Write("proc/self/cgroup", "9:cpu,cpuacct:/\n4:memory:/api/x\n0::/\n");
        Write("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n"); // v1's "no limit"
        Write("sys/fs/cgroup/memory/memory.usage_in_bytes", "5\n");
        Write("sys/fs/cgroup/memory/api/x/memory.limit_in_bytes", $"{4L << 30}\n");
        Write("sys/fs/cgroup/memory/api/x/memory.usage_in_bytes", $"{3L << 30}\n");
        Write("sys/fs/cgroup/memory/api/x/memory.stat", $"cache 1\ntotal_inactive_file {1L << 30}\n");
        var m = AvailableMemory.Detect(root)!;
        Assert.Equal(2L << 30, m.Bytes);
        Assert.StartsWith("cgroup limit 4.0 GiB", m.Source);
    }

    [Fact]
    public void NothingReadableMeansUnknown() => Assert.Null(AvailableMemory.Detect(root));

    [Theory]
    [InlineData("17179869184", 17179869184L)]
    [InlineData("16G", 16L << 30)]
    [InlineData("512 MiB", 512L << 20)]
    [InlineData("1.5T", 3L << 39)]
    [InlineData("64k", 64L << 10)]
    [InlineData("unlimited", long.MaxValue)]
    public void SizesParse(string text, long bytes) => Assert.Equal(bytes, AvailableMemory.ParseSize(text, "X"));

    [Theory]
    [InlineData("lots")]
    [InlineData("-1G")]
    [InlineData("12Q")]
    [InlineData("")]
    [InlineData("99999999999T")]
    public void BadSizesNameTheSetting(string text)
    {
        var e = Assert.Throws<InvalidInputException>(() => AvailableMemory.ParseSize(text, AvailableMemory.EnvironmentVariable));
        Assert.StartsWith($"{AvailableMemory.EnvironmentVariable}: '{text}' is not a size", e.Message);
    }

    public void Dispose()
    {
        try { Directory.Delete(root, recursive: true); } catch (IOException) { }
    }
}
