using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.DenseCaptioning;

/// <summary>
/// scenic's <c>SimpleFeaturePyramid</c> (spec §7.1) on the fused map, engine names <c>box_decoder.fpn.*</c>:
/// P3 = ConvTranspose 2×2/2 (+bias) → 1×1 → LN → 3×3 → LN; P4 = 1×1 → LN → 3×3 → LN; P5 = max-pool 2×2/2 (VALID) → 1×1 → LN
/// → 3×3 → LN; P6 = 3×3/2 pad 1 (+bias) on P5; P7 = the same on ReLU(P6). LN = LayerNorm over channels; the other convs
/// have no bias.
/// </summary>
public static class SimpleFeaturePyramid
{
    /// <summary>P3..P7 as (1, h, w, C) tensors, finest first.</summary>
    public static Tensor[] Build(ParamScope p, BoxDecoderConfig cfg, Tensor fused)
    {
        var g = p.Graph;
        if (cfg.Strides.Count != 5) throw new GraphBuildException($"simple feature pyramid: builds P3..P7, config has {cfg.Strides.Count} strides");
        var up = g.ConvTranspose2d(fused, p["simfp_3.0.weight"], p["simfp_3.0.bias"], stride: 2);
        var p3 = ConvNorm(p, cfg, ConvNorm(p, cfg, up, "simfp_3.1", 0), "simfp_3.2", 1);
        var p4 = ConvNorm(p, cfg, ConvNorm(p, cfg, fused, "simfp_4.0", 0), "simfp_4.1", 1);
        var p5 = ConvNorm(p, cfg, ConvNorm(p, cfg, MaxPool2x2(g, fused), "simfp_5.1", 0), "simfp_5.2", 1);
        var p6 = g.Conv2d(p5, p["top_block.p6.weight"], p["top_block.p6.bias"], stride: 2, padding: 1);
        var p7 = g.Conv2d(g.Relu(p6), p["top_block.p7.weight"], p["top_block.p7.bias"], stride: 2, padding: 1);
        return [p3, p4, p5, p6, p7];
    }

    private static Tensor ConvNorm(ParamScope p, BoxDecoderConfig cfg, Tensor x, string name, int padding) =>
        p.Graph.LayerNorm(p.Graph.Conv2d(x, p[name + ".weight"], padding: padding), p[name + ".norm.weight"], p[name + ".norm.bias"], cfg.NormEps);

    /// <summary>Max-pool 2×2 stride 2, VALID (an odd last row/column is dropped), as the max of four strided slices.</summary>
    public static Tensor MaxPool2x2(Graph g, Tensor x)
    {
        int h = x.Shape[1] / 2 * 2, w = x.Shape[2] / 2 * 2;
        Tensor Tap(int dy, int dx) => g.Slice(g.Slice(x, 1, dy, h, 2), 2, dx, w, 2);
        var max = g.Apply(new BinaryOp(BinaryKind.Max), Tap(0, 0), Tap(0, 1));
        max = g.Apply(new BinaryOp(BinaryKind.Max), max, Tap(1, 0));
        return g.Apply(new BinaryOp(BinaryKind.Max), max, Tap(1, 1));
    }
}
