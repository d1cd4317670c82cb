using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests.Models;

/// <summary>
/// The shape tables of SAM's prompt encoder, two-way transformer and mask decoder: exactly what their graphs bind (tiny and
/// real size), equal to the golden references' state dicts, and every mis-shaped entry fails the build.
/// </summary>
public class SamDecoderParameterTests
{
    private static readonly PromptEncoderConfig TinyPrompt = new(EmbedDim: 10, EmbeddingHeight: 3, EmbeddingWidth: 5, InputHeight: 24, InputWidth: 40, MaskInChans: 8);
    private static readonly TwoWayTransformerConfig TinyTransformer = new(Depth: 2, EmbeddingDim: 16, NumHeads: 2, MlpDim: 24);
    private static readonly MaskDecoderConfig TinyDecoder = new(16, TinyTransformer, IouHeadHiddenDim: 12);

    /// <summary>Builds every piece of a module from <paramref name="w"/> (the whole parameter set is reachable).</summary>
    private delegate void Builder(IWeightSource w);

    private static void BuildPrompt(PromptEncoderConfig cfg, IWeightSource w)
    {
        var g = new Graph();
        var p = new ParamScope(g, w);
        g.Output("sparse", PromptEncoder.SparseEmbeddings(p, cfg, g.Input("features", DType.F32, 2, 3, cfg.EmbedDim), g.Input("slots", DType.I32, 2, 3)));
        var dense = g.Output("dense", PromptEncoder.MaskEmbeddings(p, cfg, g.Input("mask", DType.F32, 2, cfg.MaskHeight, cfg.MaskWidth, 1)));
        g.Output("no_mask", PromptEncoder.NoMaskEmbedding(p, cfg));
        g.Output("pe", PromptEncoder.DensePositionalEncoding(p, cfg));
        // An assertion, not a build exception: a wrong size here must be caught by the module, not by this check.
        Assert.Equal(new Shape(2, cfg.EmbeddingHeight, cfg.EmbeddingWidth, cfg.EmbedDim), dense.Shape);
    }

    private static void BuildTransformer(TwoWayTransformerConfig cfg, IWeightSource w)
    {
        var g = new Graph();
        int c = cfg.EmbeddingDim;
        var (q, k) = TwoWayTransformer.Build(new ParamScope(g, w), cfg, g.Input("points", DType.F32, 1, 5, c),
            g.Input("image", DType.F32, 1, 12, c), g.Input("pe", DType.F32, 1, 12, c));
        g.Output("q", q);
        g.Output("k", k);
    }

    private static void BuildDecoder(MaskDecoderConfig cfg, IWeightSource w, int grid)
    {
        var g = new Graph();
        int c = cfg.TransformerDim;
        var o = MaskDecoder.Build(new ParamScope(g, w), cfg, g.Input("image", DType.F32, 1, grid, grid, c), g.Input("pe", DType.F32, 1, grid, grid, c),
            g.Input("sparse", DType.F32, 2, 2, c), g.Input("dense", DType.F32, 1, 1, 1, c), numPrompts: 2);
        Assert.Equal(new Shape(2, cfg.NumMaskTokens, 4 * grid, 4 * grid), o.Masks.Shape);
        Assert.Equal(new Shape(2, cfg.NumMaskTokens), o.IouPredictions.Shape);
        g.Output("masks", o.Masks);
        g.Output("iou", o.IouPredictions);
    }

    public static TheoryData<string> Modules => new() { "prompt", "transformer", "decoder" };

    private static (IReadOnlyDictionary<string, int[]> Shapes, Builder Build) Tiny(string module) => module switch
    {
        "prompt" => (PromptEncoder.ParameterShapes(TinyPrompt), w => BuildPrompt(TinyPrompt, w)),
        "transformer" => (TwoWayTransformer.ParameterShapes(TinyTransformer), w => BuildTransformer(TinyTransformer, w)),
        _ => (MaskDecoder.ParameterShapes(TinyDecoder), w => BuildDecoder(TinyDecoder, w, grid: 5)),
    };

    private static (IReadOnlyDictionary<string, int[]> Shapes, Builder Build) Real(string module) => module switch
    {
        "prompt" => (PromptEncoder.ParameterShapes(PromptEncoderConfig.PixelLlm), w => BuildPrompt(PromptEncoderConfig.PixelLlm, w)),
        "transformer" => (TwoWayTransformer.ParameterShapes(TwoWayTransformerConfig.SamMaskDecoder), w => BuildTransformer(TwoWayTransformerConfig.SamMaskDecoder, w)),
        _ => (MaskDecoder.ParameterShapes(MaskDecoderConfig.Sam), w => BuildDecoder(MaskDecoderConfig.Sam, w, grid: 24)),
    };

    [Theory]
    [MemberData(nameof(Modules))]
    public void TablesAreReadCompletely(string module)
    {
        foreach (var (shapes, build) in new[] { Tiny(module), Real(module) })
        {
            var weights = new RecordingWeights(shapes);
            build(weights);
            Assert.Equal(shapes.Keys.Order(), weights.Read.Order());
        }
    }

    [Fact]
    public void RealSizesFollowTheSpec()
    {
        var prompt = PromptEncoder.ParameterShapes(PromptEncoderConfig.PixelLlm);
        Assert.Equal([2, 128], prompt["pe_layer.positional_encoding_gaussian_matrix"]);
        Assert.Equal([256, 16, 1, 1], prompt["mask_downscaling.6.weight"]);
        var decoder = MaskDecoder.ParameterShapes(MaskDecoderConfig.Sam);
        Assert.Equal([2048, 256], decoder["transformer.layers.1.mlp.lin1.weight"]);
        Assert.Equal([128, 256], decoder["transformer.final_attn_token_to_image.q_proj.weight"]);
        Assert.Equal([256, 64, 2, 2], decoder["output_upscaling.0.weight"]);
        Assert.Equal([64, 32, 2, 2], decoder["output_upscaling.3.weight"]);
        Assert.Equal([32, 256], decoder["output_hypernetworks_mlps.3.layers.2.weight"]);
        Assert.Equal([4, 256], decoder["iou_prediction_head.layers.2.weight"]);
        // segment-anything: the prompt encoder has 6,220 parameters (+ the 2×128 gaussian buffer), the mask decoder 4,058,340.
        Assert.Equal(6_220L + 256, prompt.Values.Sum(Count));
        Assert.Equal(4_058_340L, decoder.Values.Sum(Count));
    }

    [Theory]
    [InlineData("sam_prompt_encoder", "cfgA")]
    [InlineData("sam_prompt_encoder", "cfgB_nonsquare")]
    [InlineData("sam_two_way_transformer", "cfgA")]
    [InlineData("sam_two_way_transformer", "cfgB_nonsquare")]
    [InlineData("sam_mask_decoder", "cfgA")]
    [InlineData("sam_mask_decoder", "cfgB_nonsquare")]
    public void MatchesTheReferenceStateDict(string component, string caseName)
    {
        using var golden = GoldenCase.Open(Path.Combine(Golden.Root, component, caseName));
        var c = golden.Config;
        var shapes = component switch
        {
            "sam_prompt_encoder" => PromptEncoder.ParameterShapes(PromptEncoderRunner.ReadConfig(c)),
            "sam_two_way_transformer" => TwoWayTransformer.ParameterShapes(TwoWayTransformerRunner.ReadConfig(c)),
            _ => MaskDecoder.ParameterShapes(MaskDecoderRunner.ReadConfig(c) with { IouHeadHiddenDim = c.GetProperty("iou_head_hidden_dim").GetInt32() }),
        };
        var expected = golden.Weights.Names.Order().Select(n => $"{n} {golden.Weights.Get(n).Shape}");
        Assert.Equal(expected, shapes.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {new Shape(kv.Value)}"));
    }

    [Theory]
    [MemberData(nameof(Modules))]
    public void MisShapedEntriesFailTheBuild(string module)
    {
        var (shapes, build) = Tiny(module);
        build(new RecordingWeights(shapes));   // the unchanged table builds, so a failure below is the grown entry's
        var built = new List<string>();
        foreach (var (name, shape) in shapes)
            for (int dim = 0; dim < shape.Length; dim++)
            {
                var e = Record.Exception(() => build(new RecordingWeights(RecordingWeights.WithGrownDim(shapes, name, dim))));
                if (e is not (GraphBuildException or ModelFileException)) built.Add($"{name}[{dim}]: {e?.GetType().Name ?? "built"}");
            }
        Assert.True(built.Count == 0, string.Join("; ", built));
    }

    private static long Count(int[] shape) => shape.Aggregate(1L, (a, b) => a * b);
}
