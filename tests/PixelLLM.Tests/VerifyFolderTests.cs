using PixelLLM.Backends.Cpu;
using PixelLLM.Cli;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// <c>pixelllm verify FOLDER</c>: every case under the folder, one line each, and an exit code that is 0 only when all
/// pass; a case that cannot run (here a truncated io file) is a failure with its reason, not the end of the run.
/// </summary>
public class VerifyFolderTests
{
    [Fact]
    public void EveryCaseUnderTheFolderGetsALineAndABrokenOneFailsTheRun()
    {
        var folder = Directory.CreateTempSubdirectory("pixelllm-verify-").FullName;
        try
        {
            var source = Path.Combine(Golden.Root, "sam_two_way_transformer");
            foreach (var file in Directory.EnumerateFiles(source)) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            using var backend = new CpuBackend();

            var output = new StringWriter();
            Assert.Equal(0, VerifyCommand.VerifyFolder(folder, backend, null, quiet: false, output));
            var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, lines.Count(l => l.StartsWith("pass  ", StringComparison.Ordinal)));
            Assert.Equal("verify: 2/2 cases pass (" + folder + ", cpu)", lines[^1]);

            var io = Path.Combine(folder, "cfgA.io.safetensors");
            File.WriteAllBytes(io, File.ReadAllBytes(io)[..100]);
            output = new StringWriter();
            Assert.Equal(1, VerifyCommand.VerifyFolder(folder, backend, null, quiet: true, output));
            lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("FAIL  cfgA: error: ", lines[0]);
            Assert.Equal("verify: 1/2 cases pass (" + folder + ", cpu)", lines[^1]);
            Assert.Equal(2, lines.Length); // quiet: the failure and the count only
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void AFolderWithoutCasesIsRefused()
    {
        var folder = Directory.CreateTempSubdirectory("pixelllm-verify-empty-").FullName;
        try
        {
            using var backend = new CpuBackend();
            var e = Assert.Throws<InvalidInputException>(() => VerifyCommand.VerifyFolder(folder, backend, null, false, new StringWriter()));
            Assert.Contains("no cases", e.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
