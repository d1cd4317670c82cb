using System.Text.Json;
using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Verification;
using Xunit.Abstractions;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>
/// The engine reproduces the demo trainer's own forward pass on the trained demo weights (issue 9): golden-format cases
/// written by weights-tools/trainer/export.py from the PyTorch model — greedy caption tokens exact, per-token trace points
/// and referring boxes within 1e-3 px, every intermediate within 1e-4.
/// </summary>
public class DemoModelPinnedTests(ITestOutputHelper log)
{
    private const string PinnedDir = "weights-tools/trainer/out/pinned";

    [Theory]
    [InlineData("demo_caption", "text_tokens")]
    [InlineData("demo_referring", "teacher.point_detection_boxes")]
    public void EngineReproducesTheTrainersForward(string caseName, string keyOutput)
    {
        using var backend = new CpuBackend();
        var report = GoldenVerifier.Verify(Path.Combine(Dir(), caseName), backend);
        foreach (var c in report.Checks) log.WriteLine($"{c.Name} {c.Shape}: max abs {c.MaxAbsError:E2}, err/tol {c.WorstRatio:F3} {c.Note}");
        var failed = report.Checks.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.MaxAbsError:g3} {c.Note}").ToList();
        Assert.True(failed.Count == 0, string.Join("; ", failed));
        foreach (var expected in new[] { keyOutput, "point_coords", "tf_logits", "encoder_output", "git_tokens" })
            Assert.Contains(report.Checks, c => c.Name.EndsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void PinnedPointsAreHeldToAThousandthOfAPixel()
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir(), "demo_caption.json")));
        var rules = CaseTolerances.Read(json);
        Assert.Equal(1e-3, rules.For("out.point_coords").Atol);
        Assert.Equal(0, rules.For("out.point_coords").Rtol);
        Assert.Equal(1e-3, rules.For("out.teacher.point_detection_boxes").Atol);
    }

    [Fact]
    public void LoadsTheDemoCheckpointThroughTheFileEntryPoint()
    {
        var outDir = Path.GetDirectoryName(Dir())!;
        using var backend = new CpuBackend();
        using var model = PixelLlm.Load(Path.Combine(outDir, "scenic_config.json"), Path.Combine(outDir, "pixelllm-demo.scenic.safetensors"), backend);
        using var pinned = GoldenCase.Open(Path.Combine(Dir(), "demo_caption"));
        var image = model.EncodeImage(pinned.Input("in.image"));
        var check = GoldenComparison.CompareOne("mid.fused_features", pinned.Input("mid.fused_features"), image.Fused, Tolerance.Default);
        Assert.True(check.Passed, $"max|err| {check.MaxAbsError:E2}");
    }

    private static string Dir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, PinnedDir);
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"{PinnedDir} not found above {AppContext.BaseDirectory}");
    }
}
