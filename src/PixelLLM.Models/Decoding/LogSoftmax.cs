using System.Numerics.Tensors;
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
        TensorPrimitives.Subtract(logits, max, result);   // (x − max) − log, rounded in that order
        TensorPrimitives.Subtract(result, log, result);
    }
}
