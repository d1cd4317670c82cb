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
/// <see cref="Eva02Encoder.ParameterShapes"/> is exactly what <see cref="Eva02Encoder.Build"/> binds: a weight source holding
/// only those shapes is read completely, at tiny and at real (EVA02-L, 384²) size; it equals timm's state dict of the golden
/// cases; and a mis-shaped entry fails the build.
/// </summary>
public class Eva02ParameterTests
{
    // PixelLLM numerics at a small width: a 6×5 table resized to the 7×7 grid of a 30² image with patch 4.
    private static readonly Eva02Config Tiny = Eva02Config.PixelLlm(embedDim: 16, depth: 2, numHeads: 2, patchSize: 4) with { PosEmbedGrid = [6, 5] };

    private static Eva02Outputs Build(Eva02Config cfg, IWeightSource weights, int imageSize, Graph? graph = null)
    {
        var g = graph ?? new Graph();
        var image = g.Input("image", DType.F32, 1, imageSize, imageSize, 3);
        var outputs = Eva02Encoder.Build(new ParamScope(g, weights), cfg, image);
        g.Output("grid", outputs.PatchGrid);
        return outputs;
    }

    [Fact]
    public void TinyTableIsReadCompletelyAndRuns()
    {
        var shapes = Eva02Encoder.ParameterShapes(Tiny);
        var weights = new RecordingWeights(new RandomWeights(shapes, seed: 8));
        var g = new Graph();
        Assert.Equal(new Shape(1, 7, 7, 16), Build(Tiny, weights, 30, g).PatchGrid.Shape);
        Assert.Equal(shapes.Keys.Order(), weights.Read.Order());

        using var backend = new CpuBackend();
        using var exec = new GraphExecutor(g, backend);
        exec.SetInput("image", OpHarness.Random(new Random(9), [1, 30, 30, 3]));
        exec.Run();
        var values = exec.FetchFloats("grid");
        Assert.All(values, v => Assert.True(float.IsFinite(v)));
        // ln_post (weight ≈ 1, bias ≈ 0) ends the encoder: O(1) spread means the random weights kept activations sane.
        Assert.InRange(values.Select(v => (double)v * v).Average(), 0.3, 3.0);
    }

    /// <summary>timm's other block forms and the unpooled head: the inventory still names exactly what the build reads.</summary>
    [Theory]
    [InlineData(true, Eva02Mlp.SwiGlu, false)]
    [InlineData(false, Eva02Mlp.SwiGluPacked, false)]
    [InlineData(true, Eva02Mlp.Gelu, true)]
    [InlineData(false, Eva02Mlp.Gelu, false)]
    public void TimmVariantsAreReadCompletely(bool qkvFused, Eva02Mlp mlp, bool scaleMlp)
    {
        var cfg = Tiny with { QkvFused = qkvFused, Mlp = mlp, ScaleMlp = scaleMlp, NumClasses = 3 };
        var shapes = Eva02Encoder.ParameterShapes(cfg);
        var weights = new RecordingWeights(shapes);
        var outputs = Build(cfg, weights, 30);
        Assert.Equal(new Shape(1, 50, 3), outputs.Logits!.Shape); // no pooling: the head on each of 1 + 7·7 tokens
        Assert.Equal(shapes.Keys.Order(), weights.Read.Order());
        Assert.Equal(qkvFused, shapes.ContainsKey("blocks.1.attn.qkv.weight"));
        Assert.Equal(mlp == Eva02Mlp.SwiGluPacked ? [2 * cfg.MlpHidden, 16] : mlp == Eva02Mlp.Gelu ? [cfg.MlpHidden, 16] : null,
            shapes.GetValueOrDefault("blocks.0.mlp.fc1.weight"));
    }

    [Fact]
    public void RealEva02LargeTableIsReadCompletely()
    {
        var cfg = Eva02Config.PixelLlmLarge;
        Assert.Equal(2730, cfg.MlpHidden);
        var shapes = Eva02Encoder.ParameterShapes(cfg);
        var weights = new RecordingWeights(shapes);
        var outputs = Build(cfg, weights, 384);
        Assert.Equal(new Shape(1, 27, 27, 1024), outputs.PatchGrid.Shape);
        Assert.Equal(new Shape(1, 730, 1024), outputs.Features.Shape);
        Assert.Same(outputs.Features, outputs.PreLogits); // no pooling: timm's pre-logits are the features
        Assert.Equal(shapes.Keys.Order(), weights.Read.Order());

        // Spec §3.3: pos table 16×16 + cls, patch conv 14×14, SwiGLU 2730 with ffn_ln, ln_post; k has no bias.
        Assert.Equal([1, 257, 1024], shapes["pos_embed"]);
        Assert.Equal([1024, 3, 14, 14], shapes["patch_embed.proj.weight"]);
        Assert.Equal([2730, 1024], shapes["blocks.23.mlp.fc1_g.weight"]);
        Assert.Equal([2730], shapes["blocks.0.mlp.norm.bias"]);
        Assert.Equal([1024, 2730], shapes["blocks.5.mlp.fc2.weight"]);
        Assert.False(shapes.ContainsKey("blocks.0.attn.k_proj.bias"));
        Assert.True(shapes.ContainsKey("norm.weight"));
        Assert.Equal(4 + 24 * 19 + 2, shapes.Count);
    }

    [Theory]
    [InlineData("cfgA_mim_avgpool")]
    [InlineData("cfgB_clip_token_nonsquare")]
    public void MatchesTheReferenceStateDict(string caseName)
    {
        using var golden = GoldenCase.Open(Path.Combine(Golden.Root, "eva02", caseName));
        var c = golden.Config;
        int patch = c.GetProperty("patch_size").GetInt32();
        var size = c.GetProperty("img_size").EnumerateArray().Select(e => e.GetInt32() / patch).ToArray();
        var cfg = Eva02Runner.ConfigFrom(c) with { PosEmbedGrid = size };
        var expected = golden.Weights.Names.Order().Select(n => $"{n} {golden.Weights.Get(n).Shape}");
        var actual = Eva02Encoder.ParameterShapes(cfg).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {new Shape(kv.Value)}");
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void TableNeedsTheStoredGrid()
    {
        var e = Assert.Throws<ArgumentException>(() => Eva02Encoder.ParameterShapes(Tiny with { PosEmbedGrid = null }));
        Assert.Contains("PosEmbedGrid", e.Message);
    }

    public static TheoryData<string, int> TinyEntries()
    {
        var data = new TheoryData<string, int>();
        foreach (var (name, shape) in Eva02Encoder.ParameterShapes(Tiny))
            for (int dim = 0; dim < shape.Length; dim++) data.Add(name, dim);
        return data;
    }

    /// <summary>Every dimension of every entry is checked at build (the pos table's grid is stated by the config).</summary>
    [Theory]
    [MemberData(nameof(TinyEntries))]
    public void MisShapedEntryFailsTheBuild(string name, int dim)
    {
        Build(Tiny, new RecordingWeights(Eva02Encoder.ParameterShapes(Tiny)), 30);   // the unchanged table builds, so a failure below is the grown entry's
        var weights = new RecordingWeights(RecordingWeights.WithGrownDim(Eva02Encoder.ParameterShapes(Tiny), name, dim));
        var e = Record.Exception(() => Build(Tiny, weights, 30));
        Assert.True(e is GraphBuildException or ModelFileException, $"{name} dim {dim} grown: {e?.GetType().Name ?? "no exception"}");
    }

    [Fact]
    public void MisShapedRealEntriesFailTheBuild()
    {
        var cfg = Eva02Config.PixelLlmLarge;
        var shapes = Eva02Encoder.ParameterShapes(cfg);
        Build(cfg, new RecordingWeights(shapes), 384);
        var names = shapes.Keys.Where(n => !n.StartsWith("blocks.", StringComparison.Ordinal) || n.StartsWith("blocks.23.", StringComparison.Ordinal));
        var passed = new List<string>();
        foreach (var name in names)
            for (int dim = 0; dim < shapes[name].Length; dim++)
            {
                var e = Record.Exception(() => Build(cfg, new RecordingWeights(RecordingWeights.WithGrownDim(shapes, name, dim)), 384));
                if (e is not (GraphBuildException or ModelFileException)) passed.Add($"{name}[{dim}]: {e?.GetType().Name ?? "built"}");
            }
        Assert.True(passed.Count == 0, string.Join("; ", passed));
    }
}
