namespace PixelLLM.Models.Decoding;

/// <summary>Greedy decoding result: tokens per row (length L, EOS fillers after the first EOS) and the mean log-prob.</summary>
public sealed record GreedyResult(int[][] Tokens, float[] LogProbs);

/// <summary>
/// Greedy decoding as scenic's greedy_decode (spec §8.1, errata B5): writes positions 1 … L−2 of a [BOS, EOS, …] buffer;
/// the previously generated token's logit is capped at −10000; after an EOS only EOS can follow (log-prob 0); the score is
/// the summed log-prob divided by max(1, #non-EOS tokens − 1). Once every row has ended the loop stops: the remaining
/// steps could only write the EOS fillers already there.
/// </summary>
public static class GreedyDecoder
{
    public const float RepeatCap = -10000f;

    public static GreedyResult Decode(IStepLogits model, DecodeOptions options, int rows)
    {
        int length = options.Length, vocab = model.VocabSize;
        if (length < 3) throw new ArgumentOutOfRangeException(nameof(options), "decode length must be at least 3");
        var buffer = new int[rows * length];
        var start = options.StartBuffer();
        for (int r = 0; r < rows; r++) start.CopyTo(buffer, r * length);
        var parents = Enumerable.Range(0, rows).ToArray();
        var logits = new float[rows * vocab];
        var logProbs = new float[vocab];
        var sum = new float[rows];
        for (int t = 1; t < length - 1 && !AllEnded(buffer, rows, length, t - 1, options.Eos); t++)
        {
            model.Compute(buffer, rows, t, parents, logits);
            for (int r = 0; r < rows; r++)
            {
                var row = logits.AsSpan(r * vocab, vocab);
                int previous = buffer[r * length + t - 1];
                row[previous] = Math.Min(row[previous], RepeatCap);
                if (previous == options.Eos)
                {
                    row.Fill(float.NegativeInfinity);
                    row[options.Eos] = 0f;
                }
                LogSoftmax.Compute(row, logProbs);
                int best = 0;
                for (int v = 1; v < vocab; v++) if (logProbs[v] > logProbs[best]) best = v;
                buffer[r * length + t] = best;
                sum[r] += logProbs[best];
            }
        }
        var tokens = new int[rows][];
        var scores = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            tokens[r] = buffer.AsSpan(r * length, length).ToArray();
            int valid = Math.Max(tokens[r].Count(x => x != options.Eos) - 1, 1);
            scores[r] = sum[r] / valid;
        }
        return new GreedyResult(tokens, scores);
    }

    /// <summary>
    /// True when every row holds EOS at <paramref name="slot"/>: each later step is then forced to EOS with log-prob 0,
    /// which the start buffer already holds, so stopping gives the same tokens and scores without running the model.
    /// </summary>
    private static bool AllEnded(int[] buffer, int rows, int length, int slot, int eos)
    {
        for (int r = 0; r < rows; r++)
            if (buffer[r * length + slot] != eos) return false;
        return true;
    }
}

/// <summary>Float32 log-softmax, max-subtracted, as the reference's jax.nn.log_softmax.</summary>
internal static class LogSoftmax
{
    public static void Compute(ReadOnlySpan<float> logits, Span<float> result)
    {
        float max = float.NegativeInfinity;
        foreach (var v in logits) max = Math.Max(max, v);
        float sum = 0f;
        foreach (var v in logits) sum += MathF.Exp(v - max);
        float log = MathF.Log(sum);
        for (int i = 0; i < logits.Length; i++) result[i] = logits[i] - max - log;
    }
}
