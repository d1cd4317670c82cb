using System.Runtime.Intrinsics;

namespace PixelLLM.Models.Decoding;

/// <summary>
/// Float32 log-softmax, max-subtracted, as the reference's jax.nn.log_softmax. The max and the Σ exp run eight lanes at a
/// time: a vocabulary row (32k entries) is read once per decode step per beam, so this is on every step's host path.
/// </summary>
internal static class LogSoftmax
{
    public static void Compute(ReadOnlySpan<float> logits, Span<float> result)
    {
        float max = Max(logits), log = MathF.Log(SumExp(logits, max));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> shift = Vector256.Create(max), offset = Vector256.Create(log);
            for (; i + 8 <= logits.Length; i += 8)
                ((Vector256.Create(logits.Slice(i, 8)) - shift) - offset).CopyTo(result.Slice(i, 8));
        }
        for (; i < logits.Length; i++) result[i] = logits[i] - max - log;
    }

    /// <summary>log Σ exp(x − max) with max the row maximum: a row's log-prob of entry i is x_i − max − this.</summary>
    public static (float Max, float Log) Normaliser(ReadOnlySpan<float> logits)
    {
        float max = Max(logits);
        return (max, MathF.Log(SumExp(logits, max)));
    }

    private static float Max(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        int i = 0;
        if (Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            var m = Vector256.Create(float.NegativeInfinity);
            for (; i + 8 <= x.Length; i += 8) m = Vector256.Max(m, Vector256.Create(x.Slice(i, 8)));
            for (int k = 0; k < 8; k++) max = Math.Max(max, m[k]);
        }
        for (; i < x.Length; i++) max = Math.Max(max, x[i]);
        return max;
    }

    private static float SumExp(ReadOnlySpan<float> x, float max)
    {
        float sum = 0f;
        int i = 0;
        if (Vector256.IsHardwareAccelerated && x.Length >= 8)
        {
            var shift = Vector256.Create(max);
            var s = Vector256<float>.Zero;
            for (; i + 8 <= x.Length; i += 8) s += Vector256.Exp(Vector256.Create(x.Slice(i, 8)) - shift);
            sum = Vector256.Sum(s);
        }
        for (; i < x.Length; i++) sum += MathF.Exp(x[i] - max);
        return sum;
    }
}
