using PixelLLM.Runtime.Ops;

namespace PixelLLM.Models.Decoding;

/// <summary>
/// Greedy decoding result: tokens per row (length L, EOS fillers after the first EOS), the mean log-prob, and each step's
/// decision margin (rows × (L − 2)): top-1 minus top-2 log-prob after the repeat cap, −1 where the step was forced (its
/// previous token was EOS) — the golden's <c>out.greedy_margin</c>.
/// </summary>
public sealed record GreedyResult(int[][] Tokens, float[] LogProbs, float[][] Margins);

/// <summary>
/// Greedy decoding as scenic's greedy_decode (spec §8.1, errata B5): writes positions 1 … L−2 of a [BOS, EOS, …] buffer;
/// the previously generated token's logit is capped at −10000; after an EOS only EOS can follow (log-prob 0); the score is
/// the summed log-prob divided by max(1, #non-EOS tokens − 1). Once every row has ended the loop stops: the remaining
/// steps could only write the EOS fillers already there. A model that can choose next to its logits (<see cref="IGreedyStep"/>,
/// e.g. on the GPU) hands back only token, log-prob and margin per row; otherwise the choice runs here on the logits.
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
        var sum = new float[rows];
        var margins = Enumerable.Range(0, rows).Select(_ => Enumerable.Repeat(-1f, length - 2).ToArray()).ToArray();
        var picker = model as IGreedyStep is { CanPick: true } p ? p : null;
        var (tokens, logProbs, stepMargins) = (new int[rows], new float[rows], new float[rows]);
        for (int t = 1; t < length - 1 && !AllEnded(buffer, rows, length, t - 1, options.Eos); t++)
        {
            if (picker is not null)
                picker.ComputeGreedy(buffer, rows, t, tokens, logProbs, stepMargins);
            else
            {
                model.Compute(buffer, rows, t, parents, logits);
                for (int r = 0; r < rows; r++)
                    (tokens[r], logProbs[r], stepMargins[r]) = GreedyChoice.Pick(logits.AsSpan(r * vocab, vocab), buffer[r * length + t - 1], options.Eos, RepeatCap);
            }
            for (int r = 0; r < rows; r++)
            {
                buffer[r * length + t] = tokens[r];
                sum[r] += logProbs[r];          // 0 for a row forced to EOS
                margins[r][t - 1] = stepMargins[r];
            }
        }
        var rowsOut = new int[rows][];
        var scores = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            rowsOut[r] = buffer.AsSpan(r * length, length).ToArray();
            int valid = Math.Max(rowsOut[r].Count(x => x != options.Eos) - 1, 1);
            scores[r] = sum[r] / valid;
        }
        return new GreedyResult(rowsOut, scores, margins);
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
