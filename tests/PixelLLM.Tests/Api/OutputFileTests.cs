using System.Diagnostics;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Api;

/// <summary>
/// What a request command does with the paths it writes and reads: a link keeps pointing at the file it names, a device
/// or pipe is written in place and never replaced, two outputs on one file or on the model's own files are refused, a
/// failure leaves no file behind and names the path the user gave, and an input that is a pipe is refused, not waited on.
/// </summary>
public sealed class OutputFileTests : IClassFixture<TinyModel>, IDisposable
{
    private readonly TinyModel tiny;
    private readonly string dir = Path.Combine(Path.GetTempPath(), $"pixelllm-outputs-{Guid.NewGuid():N}");

    public OutputFileTests(TinyModel tiny)
    {
        this.tiny = tiny;
        Directory.CreateDirectory(dir);
    }

    private static string Png => Path.Combine(TinyModel.GoldenDir, "caption_trace.png");

    private (int Code, string Error) Caption(params string[] options) => CliInProcess.Run(["caption", Png, "--model", tiny.Directory, .. options]);

    private string Line(string error) => Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));

    [Fact]
    public void ALinkKeepsPointingAtItsTargetWhichGetsTheBytes()
    {
        var target = Path.Combine(dir, "target.json");
        var link = Path.Combine(dir, "link.json");
        File.CreateSymbolicLink(link, target);
        Assert.Equal(0, Caption("--json", link).Code);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Contains("pixelllm-result/1", File.ReadAllText(target));
    }

    [Fact]
    public void ALinkIntoAMissingFolderIsOneLineAndNothingIsWritten()
    {
        var link = Path.Combine(dir, "dangling.json");
        File.CreateSymbolicLink(link, Path.Combine(dir, "missing", "x.json"));
        var (code, error) = Caption("--json", link);
        Assert.Equal(2, code);
        Assert.Contains($"--json {link}: cannot follow the link", Line(error));
        Assert.NotNull(new FileInfo(link).LinkTarget);
    }

    [Fact]
    public void ADeviceIsWrittenInPlaceNotReplaced()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.False(FileKind.IsRegularFile("/dev/null"));
        Assert.Equal(0, Caption("--json", "/dev/null", "--overlay", Path.Combine(dir, "o.png")).Code);
        Assert.False(FileKind.IsRegularFile("/dev/null"));
        Assert.True(File.Exists(Path.Combine(dir, "o.png")));
    }

    [Theory]
    [InlineData("same")]
    [InlineData("empty")]
    [InlineData("model")]
    public void OutputsThatWouldClobberAreRefusedBeforeAnyWork(string kind)
    {
        var json = Path.Combine(dir, "a.json");
        string[] options = kind switch
        {
            "same" => ["--json", json, "--overlay", Path.Combine(dir, ".", "a.json")],
            "empty" => ["--json", ""],
            _ => ["--dump", Path.Combine(tiny.Directory, "model.safetensors")],
        };
        long weights = new FileInfo(Path.Combine(tiny.Directory, "model.safetensors")).Length;
        var (code, error) = Caption(options);
        Assert.Equal(2, code);
        Assert.Contains(kind switch
        {
            "same" => "--json and --overlay name the same file",
            "empty" => "--json: empty path",
            _ => "is a file of the model directory",
        }, Line(error));
        Assert.Empty(Directory.GetFileSystemEntries(dir));
        Assert.Equal(weights, new FileInfo(Path.Combine(tiny.Directory, "model.safetensors")).Length);
    }

    [Fact]
    public void AFailedOutputLeavesNoFileAndNamesTheGivenPath()
    {
        if (!OperatingSystem.IsLinux()) return;
        var json = Path.Combine(dir, "result.json");
        var (code, error) = Caption("--json", json, "--overlay", "/proc/pixelllm-overlay.png");
        Assert.Equal(2, code);
        var line = Line(error);
        Assert.StartsWith("error: --overlay /proc/pixelllm-overlay.png: cannot write it", line);
        Assert.DoesNotContain(".tmp", line);
        Assert.Empty(Directory.GetFileSystemEntries(dir)); // the JSON, complete before the overlay failed, was not kept either
    }

    [Fact]
    public void APipeAsInputIsRefusedNotWaitedOn()
    {
        if (!OperatingSystem.IsLinux()) return;
        var fifo = Path.Combine(dir, "image.png");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!)
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        Assert.False(FileKind.IsRegularFile(fifo));
        var error = Assert.Throws<InvalidInputException>(() => PixelImage.Load(fifo));
        Assert.Equal($"{fifo}: not a regular file (a device, pipe or socket), expected a PNG or JPEG file", error.Message);
        var config = Path.Combine(dir, "model");
        TinyModel.Create(config);
        File.Delete(Path.Combine(config, "model.safetensors"));
        File.Move(fifo, Path.Combine(config, "model.safetensors"));
        var load = Assert.ThrowsAny<Exception>(() => PixelLlmModel.Load(config));
        Assert.Contains("not a regular file", load.Message);
    }

    [Fact]
    public void FileKindTellsRegularFilesFromTheRest()
    {
        if (!OperatingSystem.IsLinux()) return;
        var file = Path.Combine(dir, "f.txt");
        File.WriteAllText(file, "x");
        Assert.True(FileKind.IsRegularFile(file));
        Assert.False(FileKind.IsRegularFile("/dev/zero"));
        Assert.Null(FileKind.IsRegularFile(Path.Combine(dir, "absent")));
        Assert.Null(FileKind.IsRegularFile(dir));
    }

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
