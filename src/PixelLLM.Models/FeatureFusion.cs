using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// scenic's <c>concat_visual_features</c> with a '+' key (spec §3.5, errata A3): every (B, h, w, C) map is resized to the
/// largest (h, w) — Python's tuple max, i.e. lexicographic — with jax bicubic, then the channels are concatenated in key
/// order. PixelLLM: [EVA02 grid, SAM grid resized to it].
/// </summary>
public static class FeatureFusion
{
    public static Tensor Build(Graph g, params Tensor[] maps)
    {
        if (maps.Length == 0) throw new GraphBuildException("feature fusion: no maps");
        foreach (var m in maps)
            if (m.Shape.Rank != 4 || m.Shape[0] != maps[0].Shape[0])
                throw new GraphBuildException($"feature fusion: maps must be (B, h, w, C) with one batch size, got {m.Desc}");
        var (h, w) = maps.Select(m => (m.Shape[1], m.Shape[2])).Max();
        var resized = maps.Select(m => m.Shape[1] == h && m.Shape[2] == w ? m
            : g.Resize(m, [1, 2], [h, w], ResizeKernel.Cubic, antialias: true)).ToArray();
        return resized.Length == 1 ? resized[0] : g.Concat(-1, resized);
    }
}
