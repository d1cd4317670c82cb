using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// The T5 variant's projection of the adapter tokens into the LM width (scenic <c>visual_project_layers</c>, spec §4.3):
/// Dense (<c>visual_projection.dense</c>) then LayerNorm (<c>visual_projection.norm</c>, eps 1e-5).
/// </summary>
public static class VisualProjection
{
    public static Tensor Build(ParamScope p, Tensor tokens, int modelDim, float eps)
    {
        var weight = p["dense.weight"];
        if (weight.Shape != new Shape(modelDim, tokens.Shape[-1]))
            throw new ModelFileException($"visual projection: {weight.Name} is {weight.Shape}, expected ({modelDim}, {tokens.Shape[-1]})");
        var g = p.Graph;
        return g.LayerNorm(g.Linear(tokens, weight, p["dense.bias"]), p["norm.weight"], p["norm.bias"], eps);
    }
}
