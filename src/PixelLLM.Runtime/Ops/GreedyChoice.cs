using System.Numerics.Tensors;
using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// One row's greedy choice on the host — the reference for <see cref="GreedyPickOp"/> and
/// what greedy decoding runs when it has the logits: the previous token's logit capped (in place), then the first index of
/// the largest log-prob x − max − log Σ exp(x − max), its log-prob, and its lead over the runner-up (0 on a tie). The
/// log-probs are formed one at a time and never stored; the max and Σ exp are vectorised.
/// </summary>
public static class GreedyChoice
{
    /// <summary>The choice for one row; a row whose previous token is <paramref name="eos"/> is forced: (eos, 0, −1).</summary>
    public static (int Token, float LogProb, float Margin) Pick(Span<float> logits, int previous, int eos, float repeatCap)
    {
        if ((uint)previous >= (uint)logits.Length)
            throw new InvalidInputException($"greedy pick: previous token {previous} is outside the vocabulary [0, {logits.Length})");
        if (previous == eos) return (eos, 0f, -1f);
        logits[previous] = Math.Min(logits[previous], repeatCap);
        var (max, log) = Normaliser(logits);
        float best = float.NegativeInfinity, second = float.NegativeInfinity;
        int at = 0;
        for (int v = 0; v < logits.Length; v++)
        {
            float logProb = logits[v] - max - log;
            if (logProb > best) { second = best; best = logProb; at = v; }
            else if (logProb > second) second = logProb;
        }
        return (at, best, best - second);
    }

    /// <summary>The row maximum and log Σ exp(x − max): entry i's log-prob is x_i − max − log.</summary>
    public static (float Max, float Log) Normaliser(ReadOnlySpan<float> logits)
    {
        float max = TensorPrimitives.Max(logits);
        return (max, MathF.Log(RowReductions.SumOfExp(logits, max)));
    }

    /// <summary>Validates (logits (..., V), previous I32 with one value per row) and returns the row count.</summary>
    internal static int CheckInputs(IReadOnlyList<TensorDesc> inputs, Func<string, GraphBuildException> fail)
    {
        if (inputs.Count != 2) throw fail($"expected 2 inputs (logits, previous), got {inputs.Count}");
        var (logits, previous) = (inputs[0], inputs[1]);
        if (logits.DType is not (DType.F32 or DType.BF16 or DType.F16) || logits.Shape.Rank < 1 || logits.Shape[-1] < 1)
            throw fail($"logits must be float (..., V) with V ≥ 1, got {logits}");
        long rows = logits.ElementCount / logits.Shape[-1];
        if (previous.DType != DType.I32 || previous.ElementCount != rows)
            throw fail($"previous must be I32 with one token per row ({rows}), got {previous}");
        return checked((int)rows);
    }
}
