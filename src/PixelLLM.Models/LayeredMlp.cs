using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// The MaskFormer-style MLP SAM uses for its hypernetworks and IoU head (and PixelLLM for its one-layer projections):
/// Linear layers named layers.0 … layers.{n−1}, ReLU between layers, none after the last. The depth is read from the
/// weights, so converted checkpoints need not state it.
/// </summary>
public static class LayeredMlp
{
    public static Tensor Build(ParamScope p, Tensor x, int? expectedLayers = null)
    {
        int layers = 0;
        while (p.Has($"layers.{layers}.weight")) layers++;
        if (layers == 0) throw new ModelFileException($"{p.Prefix}: no layers.0.weight");
        if (expectedLayers is int n && n != layers) throw new ModelFileException($"{p.Prefix}: expected {n} layers, the weights hold {layers}");
        var g = p.Graph;
        for (int i = 0; i < layers; i++)
        {
            x = g.Linear(x, p[$"layers.{i}.weight"], p.Optional($"layers.{i}.bias"));
            if (i < layers - 1) x = g.Relu(x);
        }
        return x;
    }
}
