namespace PixelLLM.Models.Decoding;

/// <summary>Beam-search settings: beams kept, candidates per beam, brevity exponent (a constant 0.6 in PixelLLM, errata A6).</summary>
public sealed record BeamOptions(int Beams, int PerNode, float Alpha = 0.6f);

/// <summary>
/// Per batch element: the returned hypotheses in ascending score order (best last), their scores, and whether each is a real
/// finished hypothesis (false for placeholder slots, errata A7). When nothing finished, the live set is returned instead.
/// </summary>
public sealed record BeamResult(int[][][] Sequences, float[][] Scores, bool[][] Finished)
{
    public int[] Best(int batch) => Sequences[batch][^1];
    public float BestScore(int batch) => Scores[batch][^1];
}

/// <summary>
/// scenic's beam search (spec §8.2, errata A6/A7/B2–B4), float32 throughout: top (PerNode·Beams) of Beams×V candidates by
/// accumulated log-prob (stable: ties → lower flat index), EOS candidates scored logp / ((5+t)/6)^α into the finished set,
/// −1e7 as "minus infinity", batch-wide early stop, finished set returned if any hypothesis finished.
/// </summary>
public static class BeamSearch
{
    public const float NegInf = -1.0e7f;

    public static float BrevityPenalty(float alpha, int length) => MathF.Pow((5f + length) / 6f, alpha);

    public static BeamResult Decode(IStepLogits model, DecodeOptions options, int batch, BeamOptions beamOptions)
    {
        int k = beamOptions.Beams, length = options.Length, vocab = model.VocabSize, keep = beamOptions.PerNode * k;
        if (k < 1 || beamOptions.PerNode < 1) throw new ArgumentOutOfRangeException(nameof(beamOptions), "beams and per-node must be ≥ 1");
        if (keep > k * vocab) throw new ArgumentOutOfRangeException(nameof(beamOptions), $"{keep} candidates exceed beams × vocab = {k * vocab}");
        var state = BeamState.Initial(batch, k, options);
        var logits = new float[batch * k * vocab];
        var logProbs = new float[vocab];
        var flat = new float[k * vocab];
        var parents = Enumerable.Range(0, batch * k).ToArray();
        // min brevity penalty is computed from Python scalars in the reference, then used as float32 (errata B4).
        float maxPenalty = (float)Math.Pow((5.0 + length) / 6.0, beamOptions.Alpha);

        for (int t = 1; t < length - 1 && !state.Terminated(maxPenalty); t++)
        {
            model.Compute(state.LiveBuffer, batch * k, t, parents, logits);
            float penalty = BrevityPenalty(beamOptions.Alpha, t);
            for (int b = 0; b < batch; b++)
            {
                for (int beam = 0; beam < k; beam++)
                {
                    LogSoftmax.Compute(logits.AsSpan((b * k + beam) * vocab, vocab), logProbs);
                    float live = state.LiveLogProbs[b][beam];
                    for (int v = 0; v < vocab; v++) flat[beam * vocab + v] = logProbs[v] + live;
                }
                var top = TopK.Indices(flat, keep);
                var candidates = new int[keep][];
                var topLogProbs = new float[keep];
                var newlyFinished = new bool[keep];
                var candidateParent = new int[keep];
                for (int c = 0; c < keep; c++)
                {
                    int beam = top[c] / vocab, id = top[c] % vocab;
                    candidates[c] = (int[])state.Live[b][beam].Clone();
                    candidates[c][t] = id;
                    topLogProbs[c] = flat[top[c]];
                    newlyFinished[c] = id == options.Eos;
                    candidateParent[c] = beam;
                }
                var liveScores = new float[keep];
                var finishedScores = new float[keep];
                for (int c = 0; c < keep; c++)
                {
                    liveScores[c] = topLogProbs[c] + (newlyFinished[c] ? NegInf : 0f);
                    finishedScores[c] = topLogProbs[c] / penalty + (newlyFinished[c] ? 0f : NegInf);
                }
                var alive = Ascending(TopK.Indices(liveScores, k));
                for (int i = 0; i < k; i++)
                {
                    state.Live[b][i] = candidates[alive[i]];
                    state.LiveLogProbs[b][i] = liveScores[alive[i]];
                    parents[b * k + i] = b * k + candidateParent[alive[i]];
                }
                state.MergeFinished(b, candidates, finishedScores, newlyFinished);
            }
            state.RefreshBuffer();
        }
        return state.Result();
    }

    private static int[] Ascending(int[] descending) { Array.Reverse(descending); return descending; }
}
