namespace PixelLLM.Models;

/// <summary>The shape a compiled KV-cache decoder was built for (what <see cref="DecoderCache{TDecoder}"/> matches on).</summary>
internal interface ICompiledDecoder : IDisposable
{
    int Batch { get; }
    int Beams { get; }
    int MaxLength { get; }
    int MemoryLength { get; }

    /// <summary>The beam-search candidates per element its step chooses, or null.</summary>
    int? BeamKeep { get; }
}

/// <summary>
/// The compiled KV-cache decoder of the last shape asked for (batch, beams, buffer length, memory length, beam
/// candidates), kept so that requests of one shape compile their step graph once (and replay one recorded CUDA graph).
/// Only one is held: its caches grow with rows × length × layers, so a different shape replaces (and frees) it. With
/// <see cref="GreedyEos"/>, one-beam decoders also make the greedy choice in their step graph. Not thread-safe (one per
/// text model).
/// </summary>
/// <param name="build">(batch, beams, max length, memory length, greedy EOS or null, beam candidates or null) → a decoder.</param>
internal sealed class DecoderCache<TDecoder>(int? greedyEos, Func<int, int, int, int, int?, int?, TDecoder> build) : IDisposable
    where TDecoder : class, ICompiledDecoder
{
    private TDecoder? current;

    /// <summary>The EOS one-beam decoders make their greedy choice with, or null when they leave it to the host.</summary>
    public int? GreedyEos => greedyEos;

    /// <summary>
    /// The decoder for this shape, choosing <paramref name="beamKeep"/> beam-search candidates per element in its step when
    /// given (null: any); a decoder returned earlier for another shape is disposed.
    /// </summary>
    public TDecoder Get(int batch, int beams, int maxLength, int memoryLength, int? beamKeep = null)
    {
        if (current is { } d && d.Batch == batch && d.Beams == beams && d.MaxLength == maxLength && d.MemoryLength == memoryLength
            && (beamKeep is null || d.BeamKeep == beamKeep))
            return d;
        current?.Dispose();
        current = null;
        return current = build(batch, beams, maxLength, memoryLength, beams == 1 ? greedyEos : null, beamKeep);
    }

    /// <summary>The decoder returned last (null before the first, or after <see cref="Dispose"/>).</summary>
    public TDecoder? Current => current;

    public void Dispose()
    {
        current?.Dispose();
        current = null;
    }
}
