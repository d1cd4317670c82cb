using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// Multi-level RoIAlign with scenic's semantics (errata E5): inputs boxes F32 (N, 4) XYXY in the coordinates of the map
/// each box is pooled from, map ids I32 (N) indexing the maps, then the maps F32 (1, Hl, Wl, C) (same C). Output
/// (N, S, S, C), S = <see cref="OutputSize"/>. Per box side, S·R samples at (k + 0.5) / (S·R / size) + min
/// (R = <see cref="SamplingRatio"/>), shifted by −0.5 to an index; the two linear taps floor and floor + 1 each contribute
/// only when inside the map (a tap outside is dropped, never clamped); a bin is the mean of its R×R samples.
/// A map id outside [0, maps) yields zeros.
/// </summary>
public sealed record RoiAlignOp(int OutputSize, int SamplingRatio) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        if (inputs.Count < 3) throw Fail($"expected boxes, map ids and at least one map, got {inputs.Count} inputs");
        if (OutputSize < 1 || SamplingRatio < 1) throw Fail("output size and sampling ratio must be positive");
        var (boxes, ids) = (inputs[0], inputs[1]);
        ExpectDType(boxes, "boxes", DType.F32);
        ExpectDType(ids, "map ids", DType.I32);
        if (boxes.Shape.Rank != 2 || boxes.Shape[1] != 4) throw Fail($"boxes must be (N, 4), got {boxes}");
        if (ids.Shape.Rank != 1 || ids.Shape[0] != boxes.Shape[0]) throw Fail($"map ids must be ({boxes.Shape[0]}), got {ids}");
        int channels = inputs[2].Shape.Rank == 4 ? inputs[2].Shape[3] : -1;
        for (int i = 2; i < inputs.Count; i++)
        {
            ExpectDType(inputs[i], $"map {i - 2}", DType.F32);
            if (inputs[i].Shape.Rank != 4 || inputs[i].Shape[0] != 1 || inputs[i].Shape[3] != channels)
                throw Fail($"map {i - 2} must be (1, H, W, {channels}), got {inputs[i]}");
        }
        return new TensorDesc(DType.F32, new Shape(boxes.Shape[0], OutputSize, OutputSize, channels));
    }
}

public static partial class GraphOps
{
    /// <summary>See <see cref="RoiAlignOp"/>: boxes (N, 4) in their map's coordinates, map ids (N), maps (1, Hl, Wl, C).</summary>
    public static Tensor RoiAlign(this Graph g, Tensor boxes, Tensor mapIds, IReadOnlyList<Tensor> maps, int outputSize, int samplingRatio) =>
        g.Apply(new RoiAlignOp(outputSize, samplingRatio), [boxes, mapIds, .. maps]);
}
