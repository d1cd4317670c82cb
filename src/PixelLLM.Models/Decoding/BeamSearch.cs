using PixelLLM.Runtime.Ops;

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

    /// <summary>
    /// Decodes <paramref name="batch"/> elements of <see cref="BeamOptions.Beams"/> rows each. A model that can choose the
    /// candidates next to its logits (<see cref="IBeamStep"/>, e.g. on the GPU) hands back only those; otherwise they are
    /// chosen here from the logits, with the same values and order.
    /// </summary>
    public static BeamResult Decode(IStepLogits model, DecodeOptions options, int batch, BeamOptions beamOptions)
    {
        int k = beamOptions.Beams, length = options.Length, vocab = model.VocabSize, keep = beamOptions.PerNode * k;
        if (k < 1 || beamOptions.PerNode < 1) throw new ArgumentOutOfRangeException(nameof(beamOptions), "beams and per-node must be ≥ 1");
        if (keep > (long)k * vocab) throw new ArgumentOutOfRangeException(nameof(beamOptions), $"{keep} candidates exceed beams × vocab = {(long)k * vocab}");
        var state = BeamState.Initial(batch, k, options);
        var selector = model as IBeamStep is { CanSelect: true } s ? s : null;
        var live = new float[batch * k];
        var top = new int[batch * keep];
        var topValues = new float[batch * keep];
        var parents = Enumerable.Range(0, batch * k).ToArray();
        // min brevity penalty is computed from Python scalars in the reference, then used as float32 (errata B4).
        float maxPenalty = (float)Math.Pow((5.0 + length) / 6.0, beamOptions.Alpha);
        var host = selector is null ? new HostCandidates(batch, k, vocab, keep) : null;

        for (int t = 1; t < length - 1 && !state.Terminated(maxPenalty); t++)
        {
            for (int b = 0; b < batch; b++) state.LiveLogProbs[b].CopyTo(live, b * k);
            if (selector is not null) selector.ComputeCandidates(state.LiveBuffer, batch * k, t, parents, live, keep, top, topValues);
            else host!.Choose(model, state.LiveBuffer, t, parents, live, top, topValues);
            float penalty = BrevityPenalty(beamOptions.Alpha, t);
            for (int b = 0; b < batch; b++)
            {
                var candidates = new int[keep][];
                var topLogProbs = new float[keep];
                var newlyFinished = new bool[keep];
                var candidateParent = new int[keep];
                for (int c = 0; c < keep; c++)
                {
                    int flat = top[b * keep + c];
                    if ((uint)flat >= (uint)(k * vocab)) throw new InvalidOperationException($"beam candidate {flat} is outside beams × vocab = {k * vocab}");
                    int beam = flat / vocab, id = flat % vocab;
                    candidates[c] = (int[])state.Live[b][beam].Clone();
                    candidates[c][t] = id;
                    topLogProbs[c] = topValues[b * keep + c];
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

    /// <summary>The candidates chosen on the host from the logits: every row's values, then each element's top keep.</summary>
    private sealed class HostCandidates(int batch, int beams, int vocab, int keep)
    {
        private readonly float[] logits = new float[batch * beams * vocab];
        private readonly float[] flat = new float[beams * vocab];

        public void Choose(IStepLogits model, int[] sequences, int position, int[] parents, float[] live, int[] top, float[] values)
        {
            model.Compute(sequences, batch * beams, position, parents, logits);
            for (int b = 0; b < batch; b++)
            {
                for (int beam = 0; beam < beams; beam++)
                {
                    int row = b * beams + beam;
                    BeamCandidateChoice.Scores(logits.AsSpan(row * vocab, vocab), live[row], flat.AsSpan(beam * vocab, vocab));
                }
                var best = TopK.Indices(flat, keep);
                for (int c = 0; c < keep; c++) (top[b * keep + c], values[b * keep + c]) = (best[c], flat[best[c]]);
            }
        }
    }

    private static int[] Ascending(int[] descending) { Array.Reverse(descending); return descending; }
}
