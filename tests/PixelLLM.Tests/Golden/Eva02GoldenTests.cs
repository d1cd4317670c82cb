using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;
using Xunit.Abstractions;

namespace PixelLLM.Tests.GoldenTests;

/// <summary>EVA02 (timm Eva) against the golden cases under shared/golden/eva02.</summary>
public class Eva02GoldenTests(ITestOutputHelper log)
{
    public static TheoryData<string> Cases => new() { "cfgA_mim_avgpool", "cfgB_clip_token_nonsquare" };

    private static string CasePath(string name) => Path.Combine(PixelLLM.Tests.Support.Golden.Root, "eva02", name);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesGolden(string name)
    {
        var report = GoldenCaseAssert.Passes("eva02", name);
        foreach (var c in report.Checks) log.WriteLine($"{c.Name} {c.Shape}: max|err| {c.MaxAbsError:E2}, worst/allowed {c.WorstRatio:F3}");
        // The case lists out.* and mid.* tensors; every one must have been produced (a missing one fails above too).
        Assert.Contains(report.Checks, c => c.Name == "out.features");
        Assert.Contains(report.Checks, c => c.Name == "mid.patch_embed");
    }

    /// <summary>Our host-built RoPE tables (timm 'cat', coords scaled by ref_feat_shape / grid) equal aux.rope = [sin | cos].</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void RopeTablesMatchAuxRope(string name)
    {
        using var golden = GoldenCase.Open(CasePath(name));
        var cfg = Eva02Runner.ConfigFrom(golden.Config);
        var image = golden.Input("in.image").Shape;
        int gridH = image[2] / cfg.PatchSize, gridW = image[3] / cfg.PatchSize;
        var reference = cfg.RopeReferenceGrid!;
        var (sin, cos) = Eva02Rope.Tables(cfg.HeadDim, gridH, gridW, reference[0], reference[1]);

        var aux = golden.Input("aux.rope");
        int d = cfg.HeadDim;
        Assert.Equal(new Shape(gridH * gridW, 2 * d), aux.Shape);
        var expected = aux.ToFloatArray();
        var (s, c) = (sin.ToFloatArray(), cos.ToFloatArray());
        double worst = 0;
        for (int t = 0; t < gridH * gridW; t++)
            for (int i = 0; i < d; i++)
            {
                worst = Math.Max(worst, Math.Abs(s[t * d + i] - expected[t * 2 * d + i]));
                worst = Math.Max(worst, Math.Abs(c[t * d + i] - expected[t * 2 * d + d + i]));
            }
        // Both sides evaluate the angles in float32; only the last-ulp rounding of sin/cos may differ.
        Assert.True(worst <= 1e-6, $"rope table max |err| {worst:E2}");
    }

    [Fact]
    public void RejectsImageWithWrongChannelCount()
    {
        using var golden = GoldenCase.Open(CasePath("cfgA_mim_avgpool"));
        var cfg = Eva02Runner.ConfigFrom(golden.Config);
        var g = new Graph();
        var image = g.Input("image", DType.F32, 1, 32, 32, 4);
        var e = Assert.Throws<ModelFileException>(() => Eva02Encoder.Build(new ParamScope(g, golden.Weights), cfg, image));
        Assert.Contains("patch_embed.proj.weight", e.Message);
    }

    [Theory]
    [InlineData(new[] { 1, 3, 32, 32 })]   // NCHW instead of channels-last: 3 rows, less than one patch
    [InlineData(new[] { 1, 32, 2, 3 })]    // narrower than one patch
    [InlineData(new[] { 32, 32, 3 })]      // no batch dim
    public void RejectsBadImageShape(int[] shape)
    {
        using var golden = GoldenCase.Open(CasePath("cfgA_mim_avgpool"));
        var cfg = Eva02Runner.ConfigFrom(golden.Config);
        var g = new Graph();
        var image = g.Input("image", DType.F32, shape);
        var e = Assert.Throws<GraphBuildException>(() => Eva02Encoder.Build(new ParamScope(g, golden.Weights), cfg, image));
        Assert.Contains("Eva02Encoder: image", e.Message);
    }

    [Fact]
    public void RejectsUnsupportedTimmOptions()
    {
        var json = System.Text.Json.JsonDocument.Parse("""{"embed_dim": 32, "depth": 1, "num_heads": 2, "patch_size": 4, "mlp_ratio": 2.0, "global_pool": "avg", "num_classes": 0, "rope_type": "mixed"}""");
        var e = Assert.Throws<InvalidInputException>(() => Eva02Runner.ConfigFrom(json.RootElement));
        Assert.Contains("rope_type 'mixed'", e.Message);
    }
}
