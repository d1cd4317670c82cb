using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// <see cref="SamImageEncoder.ParameterShapes"/> is exactly what <see cref="SamImageEncoder.Build"/> binds: a weight source
/// holding only those shapes is read completely, at tiny and at real (ViT-H, 384²) size; it equals the golden
/// reference's state dict; and a mis-shaped entry fails the build.
/// </summary>
public class SamImageEncoderParameterTests
{
    // Tables for 40² (grid 10), run on a 36² image: grid 9, windows of 4 with padding, global rel-pos resized 19 → 17.
    private static readonly SamImageEncoderConfig Tiny = new(EmbedDim: 12, Depth: 3, NumHeads: 2, PatchSize: 4, OutChans: 5,
        WindowSize: 4, GlobalAttnIndexes: [1], MlpRatio: 2.0, LayerNormEps: 1e-6f, RelPosResizeAntialias: true, PretrainImageSize: 40);

    private static Tensor Build(SamImageEncoderConfig cfg, IWeightSource weights, int imageSize, Graph? graph = null)
    {
        var g = graph ?? new Graph();
        var image = g.Input("image", DType.F32, 1, imageSize, imageSize, 3);
        return g.Output("features", SamImageEncoder.Build(new ParamScope(g, weights), cfg, image));
    }

    [Fact]
    public void TinyTableIsReadCompletelyAndRuns()
    {
        var shapes = SamImageEncoder.ParameterShapes(Tiny);
        var weights = new RecordingWeights(new RandomWeights(shapes, seed: 3));
        var g = new Graph();
        var output = Build(Tiny, weights, 36, g);
        Assert.Equal(new Shape(1, 9, 9, 5), output.Shape);
        Assert.Equal(shapes.Keys.Order(), weights.Read.Order());

        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("image", OpHarness.Random(new Random(4), [1, 36, 36, 3]));
        exec.Run();
        var values = exec.FetchFloats("features");
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
        // The neck ends in a LayerNorm with weight ≈ 1, bias ≈ 0: per-pixel spread O(1), so random weights kept activations sane.
        Assert.InRange(values.Select(v => (double)v * v).Average(), 0.3, 3.0);
    }

    [Fact]
    public void RealVitHTableIsReadCompletely()
    {
        var cfg = SamImageEncoderConfig.PixelLlmVitH;
        var shapes = SamImageEncoder.ParameterShapes(cfg);
        var weights = new RecordingWeights(shapes);
        Assert.Equal(new Shape(1, 24, 24, 256), Build(cfg, weights, 384).Shape);
        Assert.Equal(shapes.Keys.Order(), weights.Read.Order());

        // Spec §3.4: 64×64 pos table, windowed rel-pos (27, 80), global (127, 80) for blocks 7/15/23/31, MLP 5120.
        Assert.Equal([1, 64, 64, 1280], shapes["pos_embed"]);
        Assert.Equal([27, 80], shapes["blocks.0.attn.rel_pos_h"]);
        Assert.Equal([127, 80], shapes["blocks.7.attn.rel_pos_w"]);
        Assert.Equal([127, 80], shapes["blocks.31.attn.rel_pos_h"]);
        Assert.Equal([27, 80], shapes["blocks.30.attn.rel_pos_h"]);
        Assert.Equal([5120, 1280], shapes["blocks.12.mlp.lin1.weight"]);
        Assert.Equal([256, 256, 3, 3], shapes["neck.2.weight"]);
        Assert.Equal(2 + 1 + 32 * 14 + 6, shapes.Count);
        // segment-anything ViT-H: 637,026,048 parameters in the image encoder.
        Assert.Equal(637_026_048L, shapes.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b)));
    }

    [Theory]
    [InlineData("cfgA")]
    [InlineData("cfgB_padded_windows")]
    public void MatchesTheReferenceStateDict(string caseName)
    {
        using var golden = GoldenCase.Open(Path.Combine(Golden.Root, "sam_image_encoder", caseName));
        var cfg = SamImageEncoderRunner.ReadConfig(golden.Config) with { PretrainImageSize = golden.Config.GetProperty("img_size").GetInt32() };
        var expected = golden.Weights.Names.Order().Select(n => $"{n} {golden.Weights.Get(n).Shape}");
        var actual = SamImageEncoder.ParameterShapes(cfg).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {new Shape(kv.Value)}");
        Assert.Equal(expected, actual);
    }

    public static TheoryData<string, int> TinyEntries()
    {
        var data = new TheoryData<string, int>();
        foreach (var (name, shape) in SamImageEncoder.ParameterShapes(Tiny))
            for (int dim = 0; dim < shape.Length; dim++)
                if (!Resizable(name, dim)) data.Add(name, dim);
        return data;
    }

    /// <summary>Every dimension of every entry (except the table axes the encoder resizes by design) is checked at build.</summary>
    [Theory]
    [MemberData(nameof(TinyEntries))]
    public void MisShapedEntryFailsTheBuild(string name, int dim)
    {
        Build(Tiny, new RecordingWeights(SamImageEncoder.ParameterShapes(Tiny)), 36);   // the unchanged table builds, so a failure below is the grown entry's
        var weights = new RecordingWeights(RecordingWeights.WithGrownDim(SamImageEncoder.ParameterShapes(Tiny), name, dim));
        var e = Record.Exception(() => Build(Tiny, weights, 36));
        Assert.True(e is GraphBuildException or ModelFileException, $"{name} dim {dim} grown: {e?.GetType().Name ?? "no exception"}");
    }

    [Fact]
    public void MisShapedRealEntriesFailTheBuild()
    {
        var cfg = SamImageEncoderConfig.PixelLlmVitH;
        var shapes = SamImageEncoder.ParameterShapes(cfg);
        Build(cfg, new RecordingWeights(shapes), 384);
        // Everything outside the blocks, plus one windowed and one global block.
        var names = shapes.Keys.Where(n => !n.StartsWith("blocks.", StringComparison.Ordinal) || n.StartsWith("blocks.0.", StringComparison.Ordinal)
            || n.StartsWith("blocks.31.", StringComparison.Ordinal));
        var passed = new List<string>();
        foreach (var name in names)
            for (int dim = 0; dim < shapes[name].Length; dim++)
            {
                if (Resizable(name, dim)) continue;
                var e = Record.Exception(() => Build(cfg, new RecordingWeights(RecordingWeights.WithGrownDim(shapes, name, dim)), 384));
                if (e is not (GraphBuildException or ModelFileException)) passed.Add($"{name}[{dim}]: {e?.GetType().Name ?? "built"}");
            }
        Assert.True(passed.Count == 0, string.Join("; ", passed));
    }

    /// <summary>pos_embed's grid and rel-pos lengths are resized to the image grid, so any size there is valid.</summary>
    private static bool Resizable(string name, int dim) =>
        (name == "pos_embed" && dim is 1 or 2) || (name.EndsWith(".attn.rel_pos_h", StringComparison.Ordinal) || name.EndsWith(".attn.rel_pos_w", StringComparison.Ordinal)) && dim == 0;
}
