using PixelLLM.Models.Decoding;

namespace PixelLLM.Tests;

/// <summary>
/// Greedy decoding stops calling the model once every row has written EOS: the steps it skips could only write the EOS
/// fillers the buffer already holds (log-prob 0, margin −1), so tokens, scores and margins equal those of the full loop.
/// </summary>
public class GreedyEarlyStopTests
{
    private const int Vocab = 9, Eos = 1, Length = 12;

    /// <summary>Row r writes script[r][t] at slot t (a clear favourite), then whatever the logits of an ended row say.</summary>
    private sealed class ScriptedModel(int[][] script) : IStepLogits
    {
        public List<int> Positions { get; } = [];
        public int VocabSize => Vocab;

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
        {
            Positions.Add(position);
            for (int r = 0; r < rows; r++)
                for (int v = 0; v < Vocab; v++)
                    logits[r * Vocab + v] = v == script[r][Math.Min(position, script[r].Length - 1)] ? 3f : 0.1f * ((v * 7 + position + r) % 5);
        }
    }

    [Fact]
    public void StopsWhenEveryRowHasEndedWithTheSameResult()
    {
        // Row 0 ends at slot 3, row 1 at slot 5: steps 1 … 5 run, 6 … 10 are skipped.
        int[][] script = [[0, 4, 6, Eos, 2, 2], [0, 5, 7, 3, 8, Eos, 2]];
        var model = new ScriptedModel(script);
        var options = new DecodeOptions(0, Eos, Length);
        var result = GreedyDecoder.Decode(model, options, 2);
        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, model.Positions);
        Assert.Equal(new[] { 0, 4, 6, Eos, Eos, Eos, Eos, Eos, Eos, Eos, Eos, Eos }, result.Tokens[0]);
        Assert.Equal(new[] { 0, 5, 7, 3, 8, Eos, Eos, Eos, Eos, Eos, Eos, Eos }, result.Tokens[1]);

        // Reference: the same model driven through all L − 2 steps by a loop that cannot see the rows end early.
        var full = new ScriptedModel(script);
        var reference = StepAll(full, options, 2);
        Assert.Equal(Enumerable.Range(1, Length - 2), full.Positions);
        Assert.Equal(reference.Tokens, result.Tokens);
        Assert.Equal(reference.LogProbs, result.LogProbs);
        Assert.Equal(reference.Margins, result.Margins);
    }

    [Fact]
    public void KeepsGoingWhileAnyRowIsLive()
    {
        int[][] script = [[0, Eos], [0, 4, 5, 6, 7, 8, 2, 3, 4, 5, 6, 7]];
        var model = new ScriptedModel(script);
        var result = GreedyDecoder.Decode(model, new DecodeOptions(0, Eos, Length), 2);
        Assert.Equal(Enumerable.Range(1, Length - 2), model.Positions);
        Assert.Equal(Eos, result.Tokens[0][1]);
        Assert.Equal(Eos, result.Tokens[1][^1]);
    }

    /// <summary>Greedy as before the stop: the decoder's own loop with the rows' end hidden by a one-row-at-a-time replay.</summary>
    private static GreedyResult StepAll(IStepLogits model, DecodeOptions options, int rows)
    {
        // A live dummy row (never EOS) keeps the loop running to the end; its tokens are dropped.
        var withDummy = new DummyRow(model, rows);
        var result = GreedyDecoder.Decode(withDummy, options, rows + 1);
        return new GreedyResult(result.Tokens[..rows], result.LogProbs[..rows], result.Margins[..rows]);
    }

    /// <summary>Adds one extra last row whose favourite is never EOS; the real rows see exactly their own logits.</summary>
    private sealed class DummyRow(IStepLogits inner, int realRows) : IStepLogits
    {
        public int VocabSize => inner.VocabSize;

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
        {
            int length = sequences.Length / rows;
            inner.Compute(sequences[..(realRows * length)], realRows, position, parents[..realRows], logits[..(realRows * Vocab)]);
            var dummy = logits.Slice(realRows * Vocab, Vocab);
            dummy.Fill(0f);
            dummy[2 + position % 2] = 5f;
        }
    }
}
