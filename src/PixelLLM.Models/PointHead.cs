using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// The per-token point head (scenic <c>MlpPointPredictor</c>, spec §6.1), engine names <c>point_head.norm</c> and
/// <c>point_head.layers.i</c>: pre-LayerNorm, Dense layers with the activation between them, output reshaped to
/// (points, 3 + classes); columns 0–1 are (x, y) mapped by (raw + 1)·0.5 to [0, 1] (no sigmoid, no clipping), the rest
/// are the point logits. Scaling to pixels, valid masks and boxes are host steps: <see cref="PointBoxes"/>, <see cref="TokenValidity"/>.
/// </summary>
public static class PointHead
{
    /// <summary>Relative coordinates (..., P, 2) and logits (..., P, 1 + classes) from text features (..., d).</summary>
    public static (Tensor Coords, Tensor Logits) Build(ParamScope p, PointHeadConfig cfg, Tensor textFeatures)
    {
        var g = p.Graph;
        var layers = new (Tensor Weight, Tensor Bias)[cfg.Depth];
        for (int i = 0; i < cfg.Depth; i++)
        {
            var weight = p[$"layers.{i}.weight"];
            int expected = i == cfg.Depth - 1 ? cfg.OutputDim : cfg.HiddenDim;
            if (weight.Shape.Rank != 2 || weight.Shape[0] != expected)
                throw new ModelFileException($"point head: {weight.Name} is {weight.Shape}, expected {expected} output rows");
            layers[i] = (weight, p[$"layers.{i}.bias"]);
        }
        // One op for the whole stack (every position at once), which a backend may run as its steps or as one kernel.
        var x = g.Mlp(textFeatures, layers, cfg.Activation, cfg.PreNorm ? (p["norm.weight"], p["norm.bias"], cfg.NormEps) : null);
        var dims = textFeatures.Shape.ToArray();
        var points = g.Reshape(x, [.. dims[..^1], cfg.NumOutputPoints, cfg.PointWidth]);
        var coords = g.Scale(g.Slice(points, -1, 0, 2), 0.5f, 0.5f);          // (raw + 1)·0.5, exactly in float32
        var logits = g.Slice(points, -1, 2, cfg.PointWidth);
        return (coords, logits);
    }
}
