using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Models.Verification;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>KV-cached T5 decoding against the full-rerun decoder: logits at every step, with and without beam reorders.</summary>
public class T5IncrementalTests
{
    /// <summary>A model with its memory: random tiny configs (odd sizes, inner ≠ d, log-spaced buckets reached) or a golden case.</summary>
    internal sealed record Setup(IWeightSource Weights, T5Config Config, HostTensor Memory, byte[] Mask);

    internal static Setup Make(string name)
    {
        if (name.StartsWith("golden:", StringComparison.Ordinal))
        {
            using var golden = GoldenCase.Open(Path.Combine(Golden.Root, "t5", name["golden:".Length..]));
            var config = T5Runner.ReadConfig(golden.Config);
            var ids = golden.Input("in.input_ids").ToFloatArray().Select(v => (int)v).ToArray();
            var mask = golden.Input("in.attention_mask").ToFloatArray().Select(v => v != 0 ? (byte)1 : (byte)0).ToArray();
            int batch = golden.Input("in.input_ids").Shape[0];
            var weights = new DictionaryWeights(golden.Weights.Names.ToDictionary(n => n, n => CopyOf(golden.Weights.Get(n))));
            return new Setup(weights, config, T5TestModels.Encode(weights, config, ids, mask, batch), mask);
        }
        var c = name switch
        {
            "tiny" => new T5Config(VocabSize: 41, DModel: 24, DKv: 5, DFf: 37, NumHeads: 3, NumLayers: 2, NumDecoderLayers: 3,
                RelativeBuckets: 8, RelativeMaxDistance: 12),
            "tied" => new T5Config(VocabSize: 29, DModel: 16, DKv: 8, DFf: 20, NumHeads: 2, NumLayers: 1, NumDecoderLayers: 2,
                RelativeBuckets: 6, RelativeMaxDistance: 9, MaskBias: float.MinValue, TieWordEmbeddings: true),
            _ => throw new ArgumentException(name),
        };
        var rng = new Random(name.Length * 31);
        const int batchSize = 2, memoryLength = 7;
        var padded = Enumerable.Range(0, batchSize * memoryLength).Select(i => i / memoryLength == 1 && i % memoryLength >= 5 ? (byte)0 : (byte)1).ToArray();
        return new Setup(T5TestModels.RandomWeights(c, seed: name.Length), c, T5TestModels.RandomMemory(rng, batchSize, memoryLength, c.DModel), padded);
    }

    /// <summary>The golden file is memory-mapped and closed with the case; tests keep private copies.</summary>
    private static HostTensor CopyOf(HostTensor t) => new(t.Desc, t.Data.ToArray());

    [Theory]
    [InlineData("tiny", 1)]
    [InlineData("tied", 1)]
    [InlineData("golden:cfgA", 1)]
    [InlineData("golden:cfgB_padded_innerdim", 1)]
    [InlineData("tiny", 3)]
    [InlineData("golden:cfgA", 2)]
    public void EveryStepMatchesTheTeacherForcedDecoder(string model, int beams)
    {
        var s = Make(model);
        var c = s.Config;
        int batch = s.Memory.Shape[0], rows = batch * beams, length = 13;
        var rng = new Random(model.Length + beams);
        using var backend = new CpuBackend();
        using var decoder = new T5IncrementalDecoder(s.Weights, c, backend, batch, beams, length, s.Memory.Shape[1]);
        decoder.Prefill(s.Memory, s.Mask);

        // Each row's history; with beams, rows continue random rows of their own element and histories move with them.
        var history = new int[rows, length];
        var logits = new float[rows * c.VocabSize];
        var hidden = new float[rows * c.DModel];
        var parents = Enumerable.Range(0, rows).ToArray();
        for (int p = 0; p < length; p++)
        {
            if (p > 0 && beams > 1)
            {
                parents = Enumerable.Range(0, rows).Select(r => r / beams * beams + rng.Next(beams)).ToArray();
                var old = (int[,])history.Clone();
                for (int r = 0; r < rows; r++) for (int i = 0; i < p; i++) history[r, i] = old[parents[r], i];
            }
            var ids = Enumerable.Range(0, rows).Select(_ => rng.Next(c.VocabSize)).ToArray();
            for (int r = 0; r < rows; r++) history[r, p] = ids[r];
            decoder.Step(ids, p, parents, logits);
            decoder.FetchHidden(hidden);

            var prefix = new int[rows * (p + 1)];
            for (int r = 0; r < rows; r++) for (int i = 0; i <= p; i++) prefix[r * (p + 1) + i] = history[r, i];
            var (fullLogits, fullHidden) = T5TestModels.TeacherForced(s.Weights, c, s.Memory, s.Mask, prefix, rows);
            for (int r = 0; r < rows; r++)
            {
                var expectedLogits = fullLogits.AsSpan((r * (p + 1) + p) * c.VocabSize, c.VocabSize).ToArray().Select(v => (double)v).ToArray();
                OpHarness.AssertClose(expectedLogits, logits.AsSpan(r * c.VocabSize, c.VocabSize), what: $"{model} step {p} row {r} logits");
                var expectedHidden = fullHidden.AsSpan((r * (p + 1) + p) * c.DModel, c.DModel).ToArray().Select(v => (double)v).ToArray();
                OpHarness.AssertClose(expectedHidden, hidden.AsSpan(r * c.DModel, c.DModel), what: $"{model} step {p} row {r} hidden");
            }
        }
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("tied")]
    [InlineData("golden:cfgA")]
    public void GreedyAndBeamSearchDecodeTheSameAsRerunning(string model)
    {
        var s = Make(model);
        int batch = s.Memory.Shape[0];
        using var backend = new CpuBackend();
        using var cached = new T5StepLogits(s.Weights, s.Config, backend, s.Memory, s.Mask);
        var rerun = new T5TestModels.Rerun(s.Weights, s.Config, s.Memory, s.Mask);
        // EOS = 1 but rare enough under random weights that decodes run to the end, exercising every step.
        var options = new DecodeOptions(Bos: 0, Eos: 1, Length: 10);

        var greedy = GreedyDecoder.Decode(cached, options, batch);
        var greedyRef = GreedyDecoder.Decode(rerun, options, batch);
        for (int b = 0; b < batch; b++)
        {
            Assert.Equal(greedyRef.Tokens[b], greedy.Tokens[b]);
            Assert.Equal(greedyRef.LogProbs[b], greedy.LogProbs[b], 1e-4);
        }

        var beamOptions = new BeamOptions(Beams: 3, PerNode: 2);
        var beam = BeamSearch.Decode(cached, options, batch, beamOptions);
        var beamRef = BeamSearch.Decode(rerun, options, batch, beamOptions);
        for (int b = 0; b < batch; b++)
        {
            Assert.Equal(beamRef.Sequences[b], beam.Sequences[b]);
            Assert.Equal(beamRef.Finished[b], beam.Finished[b]);
            for (int i = 0; i < beamOptions.Beams; i++) Assert.Equal(beamRef.Scores[b][i], beam.Scores[b][i], 1e-4);
        }

        // The same adapter decodes again from scratch (a new decode restarts at slot 1).
        Assert.Equal(greedy.Tokens, GreedyDecoder.Decode(cached, options, batch).Tokens);
    }

    [Theory]
    [InlineData("cfgA")]
    [InlineData("cfgB_padded_innerdim")]
    public void ReproducesTheGoldenGreedyIds(string caseName)
    {
        var s = Make("golden:" + caseName);
        using var golden = GoldenCase.Open(Path.Combine(Golden.Root, "t5", caseName));
        int steps = golden.Config.GetProperty("greedy_steps").GetInt32(), start = golden.Config.GetProperty("decoder_start_token_id").GetInt32();
        var expected = golden.Input("out.greedy_ids");
        int batch = expected.Shape[0], length = steps + 2, vocab = s.Config.VocabSize;
        // The reference's greedy loop has no repeat cap and no EOS handling: plain argmax, driven through IStepLogits.
        using var backend = new CpuBackend();
        using var model = new T5StepLogits(s.Weights, s.Config, backend, s.Memory, s.Mask);
        var buffer = new int[batch * length];
        for (int b = 0; b < batch; b++) buffer[b * length] = start;
        var logits = new float[batch * vocab];
        var identity = Enumerable.Range(0, batch).ToArray();
        for (int t = 1; t <= steps; t++)
        {
            model.Compute(buffer, batch, t, identity, logits);
            for (int b = 0; b < batch; b++)
            {
                var row = logits.AsSpan(b * vocab, vocab);
                buffer[b * length + t] = row.IndexOf(TensorMax(row));
            }
        }
        var ids = expected.ToFloatArray();
        for (int b = 0; b < batch; b++)
            Assert.Equal(ids.Skip(b * (steps + 1)).Take(steps + 1).Select(v => (int)v), buffer.Skip(b * length).Take(steps + 1));
    }

    private static float TensorMax(ReadOnlySpan<float> x)
    {
        float m = float.NegativeInfinity;
        foreach (var v in x) m = Math.Max(m, v);
        return m;
    }

    [Fact]
    public void BadStepsAreInvalidInput()
    {
        var s = Make("tied");
        using var backend = new CpuBackend();
        using var decoder = new T5IncrementalDecoder(s.Weights, s.Config, backend, batch: 2, beams: 2, maxLength: 5, memoryLength: 7);
        var logits = new float[4 * s.Config.VocabSize];
        Assert.Throws<InvalidInputException>(() => decoder.Prefill(HostTensor.Zeros(DType.F32, 2, 6, s.Config.DModel)));
        decoder.Prefill(s.Memory, s.Mask);
        Assert.Throws<InvalidInputException>(() => decoder.Step([0, 0, 0, 0], 5, default, logits));
        Assert.Throws<InvalidInputException>(() => decoder.Step([0, 0, 0], 0, default, logits));
        Assert.Throws<InvalidInputException>(() => decoder.Step([0, 0, 0, 0], 1, [0, 2, 2, 3], logits));   // row 1 would take element 1's row
        Assert.Throws<InvalidInputException>(() => decoder.Step([0, 0, 0, s.Config.VocabSize], 0, default, logits));
        Assert.Throws<InvalidInputException>(() => new T5StepLogits(s.Weights, s.Config, backend, HostTensor.Zeros(DType.F32, 2, 7, 3)));
    }
}
