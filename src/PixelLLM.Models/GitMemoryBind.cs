using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models;

/// <summary>
/// Writes one batch of prompt memories into the memory slots [0, M) of <see cref="GitDecoderStep"/>'s key and value
/// states, on the backend: each layer's (B, M, d) keys and values go up as they are and are tiled there to the beams
/// rows of their prompt (rows b·beams … b·beams + beams − 1), so a request uploads B·M·d per tensor instead of the
/// states' R·(M + L)·d. The states are shared with the step's executor; the caption slots are left as they are (a step
/// only sees positions up to its own).
/// </summary>
public static class GitMemoryBind
{
    /// <summary>Input: layer <paramref name="layer"/>'s memory keys, F32 (B, M, d).</summary>
    public static string Keys(int layer) => $"bind.{layer}.k";

    /// <summary>Input: layer <paramref name="layer"/>'s memory values, F32 (B, M, d).</summary>
    public static string Values(int layer) => $"bind.{layer}.v";

    /// <summary>Adds the bind to <paramref name="g"/>: no outputs, only state updates.</summary>
    public static void Build(Graph g, GitDecoderConfig c, int batch, int beams, int maxLength, int memoryLength)
    {
        if (batch < 1 || beams < 1 || maxLength < 1 || memoryLength < 1)
            throw new GraphBuildException($"GIT memory bind: batch {batch}, beams {beams}, length {maxLength} and memory {memoryLength} must be ≥ 1");
        int rows = batch * beams, width = memoryLength * c.Hidden;
        var prompts = g.Weight($"aux.git.bind_rows.{batch}x{beams}", HostTensor.FromArray(Enumerable.Range(0, rows).Select(r => r / beams).ToArray(), rows));
        var start = g.Weight("aux.git.bind_slot", HostTensor.FromArray(new[] { 0 }, 1));
        for (int i = 0; i < c.NumLayers; i++)
            foreach (var (input, state) in new[] { (Keys(i), GitDecoderStep.Keys(i)), (Values(i), GitDecoderStep.Values(i)) })
            {
                var perPrompt = g.Reshape(g.Input(input, DType.F32, batch, memoryLength, c.Hidden), batch, width);
                var tiled = g.Reshape(g.Embedding(perPrompt, prompts), rows, memoryLength, c.Hidden);
                g.WriteAt(g.State(state, DType.F32, rows, memoryLength + maxLength, c.Hidden), tiled, start, axis: 1);
            }
    }
}
