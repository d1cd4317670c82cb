using PixelLLM.Models.Common;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// Fills the cross-attention key/value states of <see cref="T5DecoderStep"/> from the encoder output: computed once per
/// batch element and copied to each of its <c>beams</c> rows (rows b·beams … b·beams + beams − 1 share element b's memory).
/// Run once per memory, before the first step; the states it writes are shared with the step's executor.
/// </summary>
public static class T5CrossPrefill
{
    /// <summary>Encoder output, F32 (B, Lm, d).</summary>
    public const string Memory = "prefill.memory";

    /// <summary>Adds the prefill to <paramref name="p"/>'s graph; it has no outputs, only state updates.</summary>
    public static void Build(ParamScope p, T5Config c, int batch, int beams, int memoryLength)
    {
        if (batch < 1 || beams < 1 || memoryLength < 1)
            throw new GraphBuildException($"T5 cross prefill needs batch, beams and memory length ≥ 1, got {batch}, {beams}, {memoryLength}");
        var g = p.Graph;
        var memory = g.Input(Memory, DType.F32, batch, memoryLength, c.DModel);
        var slots = Enumerable.Range(0, beams).Select(j => g.Weight($"aux.t5.beam_slot.{j}", HostTensor.FromArray(new[] { j }, 1))).ToArray();
        int rows = batch * beams, width = memoryLength * c.Inner;
        for (int i = 0; i < c.NumDecoderLayers; i++)
        {
            var a = p.Sub($"decoder.block.{i}.layer.1.EncDecAttention");
            foreach (var (state, weight) in new[] { (T5DecoderStep.CrossKey(i), "k.weight"), (T5DecoderStep.CrossValue(i), "v.weight") })
            {
                // Viewed as (B, beams, Lm·inner), each beam slot of the state takes a copy of its element's projection.
                var perBeam = g.Reshape(g.State(state, DType.F32, rows, memoryLength, c.Inner), batch, beams, width);
                var projected = g.Reshape(g.Linear(memory, a[weight]), batch, 1, width);
                foreach (var slot in slots) g.WriteAt(perBeam, projected, slot, axis: 1);
            }
        }
    }
}
