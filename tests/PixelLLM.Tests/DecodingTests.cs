using PixelLLM.Models.Decoding;

namespace PixelLLM.Tests;

public class DecodingTests
{
    /// <summary>Logits that depend only on the prefix before the position, pseudo-randomly, so any order of calls agrees.</summary>
    private sealed class HashedModel(int vocab, int seed) : IStepLogits
    {
        public int VocabSize => vocab;
        public int Calls { get; private set; }

        public float[] LogitsFor(ReadOnlySpan<int> prefix)
        {
            int h = seed;
            foreach (var t in prefix) h = HashCode.Combine(h, t);
            var rng = new Random(h);
            return Enumerable.Range(0, vocab).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        }

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
        {
            Calls++;
            int length = sequences.Length / rows;
            for (int r = 0; r < rows; r++)
                LogitsFor(sequences.Slice(r * length, position)).CopyTo(logits.Slice(r * vocab, vocab));
        }
    }

    private static double[] LogSoftmax64(float[] x)
    {
        double max = x.Max(), sum = x.Sum(v => Math.Exp(v - max));
        return x.Select(v => v - max - Math.Log(sum)).ToArray();
    }

    [Fact]
    public void BeamSearchWideEnoughToBeExhaustiveEqualsBruteForce()
    {
        const int vocab = 3, bos = 0, eos = 1, length = 5, beams = 8;
        var model = new HashedModel(vocab, seed: 5);
        var result = BeamSearch.Decode(model, new DecodeOptions(bos, eos, length), batch: 1, new BeamOptions(beams, PerNode: 2));

        // Every hypothesis that ends in its first EOS at a slot t ≤ L−2, scored Σ log p / ((5+t)/6)^0.6.
        var expected = new List<(int[] Seq, double Score)>();
        void Walk(int[] seq, int t, double logp)
        {
            if (t > length - 2) return;
            var lp = LogSoftmax64(model.LogitsFor(seq.AsSpan(0, t)));
            for (int v = 0; v < vocab; v++)
            {
                var next = (int[])seq.Clone();
                next[t] = v;
                if (v == eos) expected.Add((next, (logp + lp[v]) / Math.Pow((5.0 + t) / 6.0, 0.6)));
                else Walk(next, t + 1, logp + lp[v]);
            }
        }
        var start = new DecodeOptions(bos, eos, length).StartBuffer();
        Walk(start, 1, 0);
        expected.Sort((a, b) => a.Score.CompareTo(b.Score));

        // Slots scored near −1e7 come from the reference's placeholder beams (errata A7/B3), not from real hypotheses.
        var flagged = Enumerable.Range(0, beams).Where(i => result.Finished[0][i] && result.Scores[0][i] > BeamSearch.NegInf / 2).ToList();
        Assert.Equal(expected.Count, flagged.Count);
        for (int i = 0; i < flagged.Count; i++)
        {
            Assert.Equal(expected[i].Seq, result.Sequences[0][flagged[i]]);
            Assert.Equal(expected[i].Score, result.Scores[0][flagged[i]], 1e-5);
        }
        Assert.Equal(expected[^1].Seq, result.Best(0));
    }

    [Fact]
    public void BeamSearchBatchRowsMatchSingleRowRuns()
    {
        var model = new HashedModel(11, seed: 9);
        var options = new DecodeOptions(0, 1, 9);
        var beam = new BeamOptions(3, 1);
        var batched = BeamSearch.Decode(model, options, 1, beam);
        var again = BeamSearch.Decode(model, options, 1, beam);
        Assert.Equal(batched.Best(0), again.Best(0));
        Assert.True(batched.Scores[0].Zip(batched.Scores[0].Skip(1)).All(p => p.First <= p.Second), "scores must be ascending");
    }

    [Fact]
    public void GreedyNeverRepeatsImmediatelyAndStaysFinishedAfterEos()
    {
        const int vocab = 6, eos = 1, length = 10;
        var model = new HashedModel(vocab, seed: 3);
        var result = GreedyDecoder.Decode(model, new DecodeOptions(0, eos, length), rows: 2);
        foreach (var seq in result.Tokens)
        {
            Assert.Equal(0, seq[0]);
            Assert.Equal(eos, seq[^1]);
            int firstEos = Array.IndexOf(seq, eos);
            for (int t = 1; t < firstEos; t++) Assert.NotEqual(seq[t - 1], seq[t]);
            Assert.All(seq[firstEos..], x => Assert.Equal(eos, x));
        }
    }

    [Fact]
    public void GreedyMatchesStepByStepReference()
    {
        const int vocab = 7, eos = 1, length = 8;
        var model = new HashedModel(vocab, seed: 21);
        var result = GreedyDecoder.Decode(model, new DecodeOptions(0, eos, length), rows: 1);
        var seq = new DecodeOptions(0, eos, length).StartBuffer();
        double sum = 0;
        for (int t = 1; t < length - 1; t++)
        {
            var logits = model.LogitsFor(seq.AsSpan(0, t));
            logits[seq[t - 1]] = Math.Min(logits[seq[t - 1]], -10000f);
            if (seq[t - 1] == eos) { Array.Fill(logits, float.NegativeInfinity); logits[eos] = 0; }
            var lp = LogSoftmax64(logits);
            int best = Array.IndexOf(lp, lp.Max());
            seq[t] = best;
            sum += lp[best];
        }
        Assert.Equal(seq, result.Tokens[0]);
        Assert.Equal(sum / Math.Max(seq.Count(x => x != eos) - 1, 1), result.LogProbs[0], 1e-5);
    }
}
