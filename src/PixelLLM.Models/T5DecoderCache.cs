using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Models;

/// <summary>
/// The T5 decoders of <see cref="DecoderCache{TDecoder}"/>: with <paramref name="greedyEos"/>, one-beam decoders also make
/// the greedy choice in their step graph.
/// </summary>
internal sealed class T5DecoderCache(IWeightSource weights, T5Config config, IBackend backend, int? greedyEos = null) : IDisposable
{
    private readonly DecoderCache<T5IncrementalDecoder> decoders = new((batch, beams, maxLength, memoryLength, beamKeep) =>
        new T5IncrementalDecoder(weights, config, backend, batch, beams, maxLength, memoryLength, beams == 1 ? greedyEos : null, beamKeep));

    public T5Config Config => config;

    /// <summary>The EOS one-beam decoders make their greedy choice with, or null when they leave it to the host.</summary>
    public int? GreedyEos => greedyEos;

    /// <inheritdoc cref="DecoderCache{TDecoder}.Get"/>
    public T5IncrementalDecoder Get(int batch, int beams, int maxLength, int memoryLength, int? beamKeep = null) =>
        decoders.Get(batch, beams, maxLength, memoryLength, beamKeep);

    public void Dispose() => decoders.Dispose();
}
