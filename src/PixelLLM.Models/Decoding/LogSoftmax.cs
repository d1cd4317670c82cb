using System.Runtime.Intrinsics;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.Decoding;

/// <summary>
/// Float32 log-softmax, max-subtracted, as the reference's jax.nn.log_softmax (beam search reads every log-prob; greedy
/// decoding only needs <see cref="GreedyChoice"/>). Vectorised: a vocabulary row is read on every step's host path.
/// </summary>
internal static class LogSoftmax
{
    public static void Compute(ReadOnlySpan<float> logits, Span<float> result)
    {
        var (max, log) = GreedyChoice.Normaliser(logits);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> shift = Vector256.Create(max), offset = Vector256.Create(log);
            for (; i + 8 <= logits.Length; i += 8)
                ((Vector256.Create(logits.Slice(i, 8)) - shift) - offset).CopyTo(result.Slice(i, 8));
        }
        for (; i < logits.Length; i++) result[i] = logits[i] - max - log;
    }
}
