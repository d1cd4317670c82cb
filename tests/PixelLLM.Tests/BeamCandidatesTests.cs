using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// <see cref="BeamCandidatesOp"/> on the CPU against a float64 reference (odd widths, several elements), its order on ties
/// and NaN, its shape checks; and beam search driven by the step graph's candidates against the same search choosing them
/// on the host from the logits: bit for bit.
/// </summary>
public class BeamCandidatesTests
{
    [Theory]
    [InlineData(1, 4, 8, 37)]
    [InlineData(2, 3, 3, 4099)]
    [InlineData(3, 2, 5, 11)]
    public void ChoosesTheBestContinuationsOfFloat64LogSoftmaxPlusLive(int batch, int beams, int keep, int vocab)
    {
        var random = new Random(vocab + keep);
        int rows = batch * beams;
        var logits = Enumerable.Range(0, rows * vocab).Select(_ => (float)(random.NextDouble() * 24 - 12)).ToArray();
        var live = Enumerable.Range(0, rows).Select(_ => (float)(-random.NextDouble() * 6)).ToArray();

        var (indices, values) = Run(new BeamCandidatesOp(beams, keep), logits, live, rows, vocab);

        for (int b = 0; b < batch; b++)
        {
            var reference = new List<(double Value, int Flat)>();
            for (int beam = 0; beam < beams; beam++)
            {
                var row = logits.Skip((b * beams + beam) * vocab).Take(vocab).Select(v => (double)v).ToArray();
                double max = row.Max(), log = Math.Log(row.Sum(x => Math.Exp(x - max)));
                reference.AddRange(row.Select((x, v) => (x - max - log + live[b * beams + beam], beam * vocab + v)));
            }
            var best = reference.OrderByDescending(p => p.Value).ThenBy(p => p.Flat).ToArray();
            // Random doubles: the (keep)th and (keep + 1)th differ by far more than float32 rounding.
            Assert.True(best[keep - 1].Value - best[keep].Value > 1e-4);
            for (int c = 0; c < keep; c++)
            {
                Assert.Equal(best[c].Flat, indices[b * keep + c]);
                Assert.Equal(best[c].Value, values[b * keep + c], 1e-5);
            }
        }
    }

    [Fact]
    public void TiesGoToTheLowerFlatIndexAndNaNRanksFirst()
    {
        // Row 0 holds 1 three times (slots 0, 2, 3), then 0.5; row 1 is the same row with a live score 1 lower, so its
        // first 1 (flat 5) comes after row 0's 0.5 (flat 1).
        var logits = new float[] { 1f, 0.5f, 1f, 1f, -1f, /**/ 1f, 0.5f, 1f, 1f, -1f };
        var (indices, values) = Run(new BeamCandidatesOp(2, 5), logits, [0f, -1f], 2, 5);
        Assert.Equal([0, 2, 3, 1, 5], indices);
        Assert.Equal(values[0], values[1]);
        Assert.Equal(values[0] - 0.5f, values[3], 1e-6);
        Assert.Equal(values[0] - 1f, values[4], 1e-6);

        // A row holding NaN has no normaliser: every value of it is NaN, above every number, first indices first.
        var nan = new float[] { 0.5f, float.NaN, 1f, /**/ 3f, 2f, 1f };
        var (nanIndices, nanValues) = Run(new BeamCandidatesOp(2, 4), nan, [0f, 0f], 2, 3);
        Assert.Equal([0, 1, 2, 3], nanIndices);
        Assert.All(nanValues.Take(3), v => Assert.True(float.IsNaN(v)));
        Assert.False(float.IsNaN(nanValues[3]));
    }

    [Fact]
    public void RejectsShapesThatDoNotFit()
    {
        var op = new BeamCandidatesOp(3, 4);
        TensorDesc Logits(int rows, int vocab) => new(DType.F32, new Shape(rows, vocab));
        TensorDesc I32(params int[] shape) => new(DType.I32, new Shape(shape));
        Assert.Equal(I32(2, 4), op.InferOutput([Logits(6, 9), I32(6), I32(2, 4)]));
        Assert.Contains("batch × 3 beams", Assert.Throws<GraphBuildException>(() => op.InferOutput([Logits(5, 9), I32(5), I32(2, 4)])).Message);
        Assert.Contains("keep 4 exceeds", Assert.Throws<GraphBuildException>(() => op.InferOutput([Logits(3, 1), I32(3), I32(1, 4)])).Message);
        Assert.Contains("live log-probs", Assert.Throws<GraphBuildException>(() =>
            op.InferOutput([Logits(6, 9), new TensorDesc(DType.F32, new Shape(6)), I32(2, 4)])).Message);
        Assert.Contains("values", Assert.Throws<GraphBuildException>(() => op.InferOutput([Logits(6, 9), I32(6), I32(2, 5)])).Message);
    }

    [Theory]
    [InlineData("tiny", 3, 2)]
    [InlineData("tied", 2, 3)]
    [InlineData("golden:cfgA", 4, 2)]
    public void BeamSearchOnTheStepsCandidatesEqualsChoosingThemFromTheLogits(string model, int beams, int perNode)
    {
        var s = T5IncrementalTests.Make(model);
        int batch = s.Memory.Shape[0];
        using var backend = new CpuBackend();
        using var stepChooses = new T5StepLogits(s.Weights, s.Config, backend, s.Memory, s.Mask, t5xTargetMasks: true);
        using var hostChooses = new T5StepLogits(s.Weights, s.Config, backend, s.Memory, s.Mask, t5xTargetMasks: true);
        var counted = new CountingSteps(stepChooses);
        var options = new DecodeOptions(Bos: 0, Eos: 1, Length: 9);
        var beamOptions = new BeamOptions(beams, perNode);

        var chosen = BeamSearch.Decode(counted, options, batch, beamOptions);
        var reference = BeamSearch.Decode(new LogitsOnly(hostChooses), options, batch, beamOptions);

        Assert.True(counted.Candidates > 0);
        Assert.Equal(0, counted.Logits);
        for (int b = 0; b < batch; b++)
        {
            Assert.Equal(reference.Sequences[b], chosen.Sequences[b]);
            Assert.Equal(reference.Finished[b], chosen.Finished[b]);
            Assert.Equal(reference.Scores[b], chosen.Scores[b]);   // exact: the same float32 operations in the same order
        }
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(3, 2)]
    public void GitStepsChooseAsTheHostDoesFromTheLogits(int beams, int perNode)
    {
        var c = Models.GitTestModel.Config;
        var weights = Models.GitTestModel.Weights(c, Models.GitTestModel.VisualDim, seed: 14);
        using var backend = new CpuBackend();
        var memory = GitPromptMemory.Compute(weights, c, backend, Models.GitDecoderTests.RandomVisual(2, seed: 6), Models.GitDecoderTests.ContextTensor());
        using var stepChooses = new GitStepLogits(weights, c, backend, memory, greedyEos: 3);
        using var hostChooses = new GitStepLogits(weights, c, backend, memory);
        var options = new DecodeOptions(Bos: 2, Eos: 3, Length: 9);

        var beam = BeamSearch.Decode(stepChooses, options, 2, new BeamOptions(beams, perNode));
        var beamReference = BeamSearch.Decode(new LogitsOnly(hostChooses), options, 2, new BeamOptions(beams, perNode));
        Assert.Equal(beamReference.Sequences, beam.Sequences);
        Assert.Equal(beamReference.Scores, beam.Scores);
        Assert.Equal(beamReference.Finished, beam.Finished);

        Assert.True(stepChooses.CanPick);
        Assert.False(hostChooses.CanPick);
        var greedy = GreedyDecoder.Decode(stepChooses, options, 2);
        var greedyReference = GreedyDecoder.Decode(hostChooses, options, 2);
        Assert.Equal(greedyReference.Tokens, greedy.Tokens);
        Assert.Equal(greedyReference.LogProbs, greedy.LogProbs);
        Assert.Equal(greedyReference.Margins, greedy.Margins);
    }

    private static (int[] Indices, float[] Values) Run(BeamCandidatesOp op, float[] logits, float[] live, int rows, int vocab)
    {
        int batch = rows / op.Beams;
        var c = new OpCheckCase("test", op, [new(DType.F32, new Shape(rows, vocab)), new(DType.I32, new Shape(rows)), new(DType.I32, new Shape(batch, op.Keep))])
        {
            FloatBits = [1, 2],
            Values = new() { [0] = logits, [1] = live },
        };
        using var backend = new CpuBackend();
        var outputs = BackendCheck.RunWithUpdates(backend, c, c.MakeInputs(new Random(1), v => v));
        return (outputs[0].AsSpan<int>().ToArray(), OpCheckCase.AsFloats(outputs[1]).AsSpan<float>().ToArray());
    }

    /// <summary>The model seen only through <see cref="IStepLogits"/>: beam search chooses on the host.</summary>
    private sealed class LogitsOnly(IStepLogits inner) : IStepLogits
    {
        public int VocabSize => inner.VocabSize;

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits) =>
            inner.Compute(sequences, rows, position, parents, logits);
    }

    /// <summary>Forwards both paths and counts which one beam search takes.</summary>
    private sealed class CountingSteps(T5StepLogits inner) : IStepLogits, IBeamStep
    {
        public int Logits { get; private set; }
        public int Candidates { get; private set; }
        public int VocabSize => inner.VocabSize;
        public bool CanSelect => inner.CanSelect;

        public void Compute(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, Span<float> logits)
        {
            Logits++;
            inner.Compute(sequences, rows, position, parents, logits);
        }

        public void ComputeCandidates(ReadOnlySpan<int> sequences, int rows, int position, ReadOnlySpan<int> parents, ReadOnlySpan<float> liveLogProbs,
            int keep, Span<int> indices, Span<float> values)
        {
            Candidates++;
            inner.ComputeCandidates(sequences, rows, position, parents, liveLogProbs, keep, indices, values);
        }
    }
}
