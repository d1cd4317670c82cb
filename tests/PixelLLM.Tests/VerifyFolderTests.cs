using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Cli;
using PixelLLM.Runtime;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// <c>pixelllm verify FOLDER</c>: every case under the folder, one line each, and an exit code that is 0 only when all
/// pass; a case that cannot run (here a truncated io file) is a failure with its reason, not the end of the run; --json
/// writes every case and tensor.
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

    /// <summary>
    /// Cases beyond the dev goldens, each against an independent PyTorch forward, through the command's default backend
    /// (cpu-f64): scenic options no golden uses (tests/data/scenic-options: dense prompt fusion, EVA02 without ln_post,
    /// one box point a side, the two-corner grid) and dense captioning on new images (tests/data/densecap-new-images:
    /// zero-box slots through the point path, −1 slots, a P4 RoI).
    /// </summary>
    [Theory]
    [InlineData("scenic-options", 5)]
    [InlineData("densecap-new-images", 2)]
    public void CasesBeyondTheGoldensPass(string name, int cases)
    {
        var folder = Path.Combine(RepoRoot.Path, "tests", "data", name);
        using var backend = new CpuBackend(accumulation: CpuAccumulation.Float64);
        var output = new StringWriter();
        Assert.True(VerifyCommand.VerifyFolder(folder, backend, null, quiet: true, output) == 0, output.ToString());
        Assert.EndsWith($"verify: {cases}/{cases} cases pass ({folder}, cpu-f64)", output.ToString().Trim());
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
    /// <summary>--json: every case with its tensors (or its reason), and only when the whole run is done.</summary>
    [Fact]
    public void JsonReportListsEveryCaseAndTensorAndAFailedCaseItsReason()
    {
        var folder = Directory.CreateTempSubdirectory("pixelllm-verify-json-").FullName;
        try
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Golden.Root, "sam_two_way_transformer")))
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            var io = Path.Combine(folder, "cfgA.io.safetensors");
            File.WriteAllBytes(io, File.ReadAllBytes(io)[..100]);
            using var backend = new CpuBackend();
            var outcomes = new List<VerifyOutcome>();
            Assert.Equal(1, VerifyCommand.VerifyFolder(folder, backend, null, quiet: true, new StringWriter(), outcomes));
            var stream = new MemoryStream();
            VerifyJson.Write(stream, backend.Name, outcomes);
            var root = JsonDocument.Parse(stream.ToArray()).RootElement;
            Assert.Equal("pixelllm-verify/1", root.GetProperty("schema").GetString());
            Assert.Equal((1, 2), (root.GetProperty("cases_passed").GetInt32(), root.GetProperty("cases").GetInt32()));
            var results = root.GetProperty("results").EnumerateArray().ToList();
            var broken = results.Single(r => r.GetProperty("case").GetString() == "cfgA");
            Assert.False(broken.GetProperty("passed").GetBoolean());
            Assert.StartsWith("error: ", broken.GetProperty("error").GetString());
            var good = results.Single(r => r.GetProperty("case").GetString() == "cfgB_nonsquare");
            Assert.True(good.GetProperty("passed").GetBoolean());
            Assert.Equal("sam_two_way_transformer", good.GetProperty("component").GetString());
            var tensors = good.GetProperty("tensors").EnumerateArray().ToList();
            Assert.NotEmpty(tensors);
            Assert.All(tensors, t => Assert.True(t.GetProperty("passed").GetBoolean() && t.GetProperty("error_over_tolerance").GetDouble() <= 1));

            // Through the command: one case, the report beside the exit code.
            var report = Path.Combine(folder, "report.json");
            var (exit, _) = CliInProcess.Run("verify", Path.Combine(folder, "cfgB_nonsquare"), "--backend", "cpu", "--quiet", "--json", report);
            Assert.Equal(0, exit);
            Assert.Equal(1, JsonDocument.Parse(File.ReadAllBytes(report)).RootElement.GetProperty("cases_passed").GetInt32());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
