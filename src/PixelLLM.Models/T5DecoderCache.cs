using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// The compiled KV-cache decoder of the last shape asked for (batch, beams, buffer length, memory length), kept so that
/// requests of one shape compile their step and prefill graphs once. Only one is held: its caches grow with rows × length
/// × layers, so a different shape replaces (and frees) it. Not thread-safe (one per <see cref="PixelLlm"/>). With
/// <paramref name="greedyEos"/>, one-beam decoders also make the greedy choice in their step graph.
/// </summary>
internal sealed class T5DecoderCache(IWeightSource weights, T5Config config, IBackend backend, int? greedyEos = null) : IDisposable
{
    private T5IncrementalDecoder? current;

    public T5Config Config => config;

    /// <summary>The EOS one-beam decoders make their greedy choice with, or null when they leave it to the host.</summary>
    public int? GreedyEos => greedyEos;

    /// <summary>
    /// The decoder for this shape, choosing <paramref name="beamKeep"/> beam-search candidates per element in its step when
    /// given (null: any); a decoder returned earlier for another shape is disposed.
    /// </summary>
    public T5IncrementalDecoder Get(int batch, int beams, int maxLength, int memoryLength, int? beamKeep = null)
    {
        if (current is { } d && d.Batch == batch && d.Beams == beams && d.MaxLength == maxLength && d.MemoryLength == memoryLength
            && (beamKeep is null || d.BeamKeep == beamKeep))
            return d;
        current?.Dispose();
        current = null;
        return current = new T5IncrementalDecoder(weights, config, backend, batch, beams, maxLength, memoryLength, beams == 1 ? greedyEos : null, beamKeep);
    }

    public void Dispose()
    {
        current?.Dispose();
        current = null;
    }
}
