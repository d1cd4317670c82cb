using CsCheck;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests.Properties;

/// <summary>
/// Beam search against brute force on random tiny "models" (logits = a seeded hash of the prefix): when the beam is wide enough
/// to keep every live hypothesis, scenic's search must return exactly the best of all finished sequences, scored
/// log p / ((5 + t) / 6)^α with t the EOS position — whatever the prefix-dependent logits are.
/// </summary>
public class BeamSearchProperties
{
    private const int Bos = 0, Eos = 1;

    /// <summary>Logits depend only on the prefix before <c>position</c>, through a seeded hash, so any row order gives the same.</summary>
    private sealed class HashedPrefixModel(int vocab, int seed, float spread) : IStepLogits
    {
        public int VocabSize => vocab;

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
        {
            int length = sequences.Length / rows;
            for (int r = 0; r < rows; r++)
                Logits(sequences.Slice(r * length, position), logits.Slice(r * vocab, vocab));
        }

        public void Logits(ReadOnlySpan<int> prefix, Span<float> logits)
        {
            var hash = new HashCode();
            hash.Add(seed);
            foreach (var id in prefix) hash.Add(id);
            var rng = new Random(hash.ToHashCode());
            for (int v = 0; v < vocab; v++) logits[v] = (float)(rng.NextDouble() * 2 - 1) * spread;
        }
    }

    [Fact]
    public void WideBeamEqualsBruteForce()
    {
        var cases = Gen.Select(Gen.Int[2, 4], Gen.Int[3, 6], Gen.Int[0, 1_000_000], Gen.Float[0.5f, 6f]);
        cases.Sample((vocab, length, seed, spread) =>
        {
            var model = new HashedPrefixModel(vocab, seed, spread);
            var options = new DecodeOptions(Bos, Eos, length);
            int live = (int)Math.Pow(vocab, length - 2);                 // more than every live or finished hypothesis
            var result = BeamSearch.Decode(model, options, 1, new BeamOptions(live, vocab, 0.6f));
            var (bestTokens, bestScore) = BruteForce(model, vocab, length, 0.6f);
            if (bestTokens is null) return;                            // nothing can finish: covered elsewhere
            Assert.True(result.Finished[0][^1], "the best returned hypothesis must be a finished one");
            Assert.Equal(bestTokens, result.Best(0)[..(Array.IndexOf(result.Best(0), Eos, 1) + 1)]);
            Assert.Equal(bestScore, result.BestScore(0), 4);
        }, iter: 150);
    }

    /// <summary>Every sequence BOS t1 … t_k EOS with k + 1 ≤ length − 2 generated slots, best by the brevity-penalised log-prob.</summary>
    private static (int[]? Tokens, float Score) BruteForce(HashedPrefixModel model, int vocab, int length, float alpha)
    {
        int[]? best = null;
        float bestScore = float.NegativeInfinity;
        void Walk(List<int> prefix, float logProb)
        {
            int position = prefix.Count;
            if (position > length - 2) return;
            var logits = new float[vocab];
            var logProbs = new float[vocab];   // per level: the recursion below must not overwrite this level's values
            model.Logits(prefix.ToArray(), logits);
            BeamCandidateChoice.Scores(logits, 0f, logProbs);
            for (int v = 0; v < vocab; v++)
            {
                float total = logProb + logProbs[v];
                if (v == Eos)
                {
                    float score = total / BeamSearch.BrevityPenalty(alpha, position);
                    if (score > bestScore) { bestScore = score; best = [.. prefix, Eos]; }
                }
                else
                {
                    prefix.Add(v);
                    Walk(prefix, total);
                    prefix.RemoveAt(prefix.Count - 1);
                }
            }
        }
        Walk([Bos], 0f);
        return (best, bestScore);
    }
}
