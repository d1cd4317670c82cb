using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// The image half of Fig. 2 as one graph: the canvas normalised twice, EVA02 and SAM on it, their features fused. Inputs
/// "pixels" (B, S, S, 3) and "padding_mask" (B, S, S, 1), B images at once (1 by default); outputs mid.git_tokens, mid.git_visual_features,
/// mid.sam_visual_features and mid.fused_features. SAM is built on the graph's side lane: it is independent of EVA02
/// until the fusion, so a backend with concurrent lanes runs the two encoders at once.
/// </summary>
public static class VisionGraph
{
    /// <summary>Adds the vision graph to <paramref name="g"/> and returns the fused features.</summary>
    public static Tensor Build(Graph g, PixelLlmConfig config, IWeightSource weights, int images = 1)
    {
        if (images < 1) throw new GraphBuildException($"vision graph: {images} images");
        int c = config.Canvas;
        var pixels = g.Input("pixels", DType.F32, images, c, c, 3);
        var mask = g.Input("padding_mask", DType.F32, images, c, c, 1);
        // Scopes keep the encoders' own intermediate names (mid.patch_embed, mid.blocks.i) apart.
        Eva02Outputs eva;
        using (g.Scope("eva02"))
            eva = Eva02Encoder.Build(new ParamScope(g, weights, "eva02"), config.Eva,
                ImagePreprocess.Normalise(g, pixels, mask, PixelLlmConfig.EvaPixelMean, PixelLlmConfig.EvaPixelStd, "eva02"));
        Tensor sam;
        using (g.Scope("sam"))
        using (g.OnSideLane())
            sam = SamImageEncoder.Build(new ParamScope(g, weights, "sam.image_encoder"), config.Sam,
                ImagePreprocess.Normalise(g, pixels, mask, PixelLlmConfig.SamPixelMean, PixelLlmConfig.SamPixelStd, "sam"));
        g.Output("mid.git_tokens", eva.Features);
        g.Output("mid.git_visual_features", eva.PatchGrid);
        g.Output("mid.sam_visual_features", sam);
        var maps = config.FeatureKeys.Select(k => k == VisualFeature.Eva ? eva.PatchGrid : sam).ToArray();
        return g.Output("mid.fused_features", FeatureFusion.Build(g, maps));
    }
}
