namespace PixelLLM.Models.Decoding;

/// <summary>
/// Records the logits a greedy decode saw, to report each step's decision margin afterwards: top-1 minus top-2
/// log-prob after the repeat cap (−1 for forced steps after an EOS), the golden's <c>out.greedy_margin</c> (N, L − 2).
/// </summary>
public sealed class GreedyMargins(IStepLogits inner) : IStepLogits
{
    private readonly Dictionary<int, float[]> seen = [];

    public int VocabSize => inner.VocabSize;

    public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
    {
        inner.Compute(sequences, rows, position, parents, logits);
        seen[position] = logits[..(rows * VocabSize)].ToArray();
    }

    /// <summary>Margins (rows, L − 2) for the decoded <paramref name="tokens"/> (rows of length L).</summary>
    public float[][] Margins(int[][] tokens, int eos)
    {
        int vocab = VocabSize;
        var logProbs = new float[vocab];
        var row = new float[vocab];
        return tokens.Select((sequence, r) =>
        {
            var margins = new float[sequence.Length - 2];
            for (int t = 1; t < sequence.Length - 1; t++)
            {
                int previous = sequence[t - 1];
                if (previous == eos || !seen.TryGetValue(t, out var all)) { margins[t - 1] = -1f; continue; }
                all.AsSpan(r * vocab, vocab).CopyTo(row);
                row[previous] = Math.Min(row[previous], GreedyDecoder.RepeatCap);
                LogSoftmax.Compute(row, logProbs);
                float best = float.NegativeInfinity, second = float.NegativeInfinity;
                foreach (var v in logProbs)
                {
                    if (v > best) { second = best; best = v; }
                    else if (v > second) second = v;
                }
                margins[t - 1] = best - second;
            }
            return margins;
        }).ToArray();
    }
}
