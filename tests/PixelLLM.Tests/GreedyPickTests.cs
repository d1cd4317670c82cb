using PixelLLM.Models.Decoding;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// The greedy step's host pick (token, log-prob, margin in one pass over the logits, never storing log-probs) and the
/// vectorised beam scores (log-softmax plus the live log-prob), against a float64 reference on odd vocabulary sizes, with the repeat cap and ties.
/// </summary>
public class GreedyPickTests
{
    [Theory]
    [InlineData(7, 1)]
    [InlineData(1037, 2)]
    [InlineData(32128, 3)]
    public void PickMatchesFloat64LogSoftmax(int vocab, int seed)
    {
        var random = new Random(seed);
        var logits = Enumerable.Range(0, vocab).Select(_ => (float)(random.NextDouble() * 24 - 12)).ToArray();
        int previous = Array.IndexOf(logits, logits.Max());   // the favourite is the previous token: the cap must demote it
        var reference = logits.Select(x => (double)x).ToArray();
        reference[previous] = Math.Min(reference[previous], GreedyDecoder.RepeatCap);
        double max = reference.Max(), log = Math.Log(reference.Sum(x => Math.Exp(x - max)));
        var sorted = reference.Select((x, i) => (LogProb: x - max - log, Index: i)).OrderByDescending(p => p.LogProb).ThenBy(p => p.Index).ToArray();

        var (token, logProb, margin) = GreedyChoice.Pick(logits, previous, eos: vocab, GreedyDecoder.RepeatCap);

        Assert.Equal(sorted[0].Index, token);
        Assert.NotEqual(previous, token);
        Assert.Equal(sorted[0].LogProb, logProb, 1e-5);
        Assert.Equal(sorted[0].LogProb - sorted[1].LogProb, margin, 1e-5);
        Assert.Equal(GreedyDecoder.RepeatCap, logits[previous]);
    }

    [Fact]
    public void TieGoesToTheFirstIndexWithZeroMargin()
    {
        var logits = new float[] { 0.5f, 2f, -1f, 2f, 1.5f, 0f, 0f, 0f, 0f, 0f, 0.25f };
        var (token, _, margin) = GreedyChoice.Pick(logits, previous: 0, eos: 9, GreedyDecoder.RepeatCap);
        Assert.Equal(1, token);
        Assert.Equal(0f, margin);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(37)]
    [InlineData(32128)]
    public void BeamScoresAreLogSoftmaxPlusLiveToFloat64(int vocab)
    {
        var random = new Random(vocab);
        var logits = Enumerable.Range(0, vocab).Select(_ => (float)(random.NextDouble() * 40 - 20)).ToArray();
        var result = new float[vocab];
        const float live = -3.25f;
        BeamCandidateChoice.Scores(logits, live, result);
        double max = logits.Max(), log = Math.Log(logits.Sum(x => Math.Exp(x - max)));
        for (int i = 0; i < vocab; i++) Assert.Equal(logits[i] - max - log + live, result[i], 1e-5);
    }

    [Fact]
    public void RowAfterEosIsForcedAndABadPreviousTokenIsRejected()
    {
        var logits = new float[] { 0.5f, 2f, -1f, 3f };
        Assert.Equal((1, 0f, -1f), GreedyChoice.Pick(logits, previous: 1, eos: 1, GreedyDecoder.RepeatCap));
        Assert.Equal(2f, logits[1]);   // a forced row leaves the logits alone
        var e = Assert.Throws<PixelLLM.Runtime.InvalidInputException>(() => GreedyChoice.Pick(logits, previous: 4, eos: 1, GreedyDecoder.RepeatCap));
        Assert.Contains("previous token 4", e.Message);
    }
}
