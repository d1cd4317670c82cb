using PixelLLM.Backends.Cpu;
using PixelLLM.Models;
using PixelLLM.Models.Decoding;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Weights;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// PixelLLM's T5 decoding on a KV cache with the t5x target masks (key j masked when token j + 1 is 0) against the
/// reference's full decoder rerun on the whole buffer: logits at every step of buffers holding pads, and whole greedy and
/// beam decodes of random tiny models whose small vocabulary makes them decode pads inside their captions.
/// </summary>
public class T5TargetMaskDecodingTests
{
    private const int Batch = 2, MemoryLength = 7, Eos = 1;

    /// <summary>Vocabulary 6: a random model picks pad (0) often. Decoder deeper than one layer so masked keys feed later ones.</summary>
    private static readonly T5Config Small = new(VocabSize: 6, DModel: 16, DKv: 4, DFf: 21, NumHeads: 3, NumLayers: 1, NumDecoderLayers: 3,
        RelativeBuckets: 8, RelativeMaxDistance: 12);

    private sealed record Model(DictionaryWeights Weights, DictionaryWeights T5Prefixed, HostTensor Memory, bool[][] Valid, byte[] Mask);

    private static Model Make(int seed)
    {
        var weights = T5TestModels.RandomWeights(Small, seed);
        var prefixed = new DictionaryWeights(weights.Names.ToDictionary(n => "t5." + n, weights.Get));
        var memory = T5TestModels.RandomMemory(new Random(seed), Batch, MemoryLength, Small.DModel);
        // The second element's last two memory tokens are padding.
        var valid = Enumerable.Range(0, Batch).Select(b => Enumerable.Range(0, MemoryLength).Select(k => b == 0 || k < 5).ToArray()).ToArray();
        var mask = valid.SelectMany(v => v.Select(x => x ? (byte)1 : (byte)0)).ToArray();
        return new Model(weights, prefixed, memory, valid, mask);
    }

    private static PixelLlmDecoder.StepLogits Rerun(Model m, CpuBackend backend, int beams, int length, out PixelLlmDecoder decoder)
    {
        decoder = new PixelLlmDecoder(m.T5Prefixed, Small, backend, Batch * beams, length, MemoryLength);
        return new PixelLlmDecoder.StepLogits(decoder, m.Memory.ToFloatArray(), m.Valid, beams);
    }

    [Theory]
    [InlineData(11, 1)]
    [InlineData(12, 3)]
    public void EveryStepMatchesTheRerunOnBuffersHoldingPads(int seed, int beams)
    {
        var m = Make(seed);
        int rows = Batch * beams, length = 11, vocab = Small.VocabSize;
        var rng = new Random(seed);
        // Final rows: BOS, then random ids, a third of them pads; step t sees slots < t of them and EOS fillers after.
        var final = new int[rows * length];
        for (int r = 0; r < rows; r++)
            for (int i = 1; i < length; i++) final[r * length + i] = rng.NextDouble() < 0.35 ? 0 : rng.Next(1, vocab);
        using var backend = new CpuBackend();
        using var cached = new T5StepLogits(m.Weights, Small, backend, m.Memory, m.Mask, t5xTargetMasks: true);
        using var causal = new T5StepLogits(m.Weights, Small, backend, m.Memory, m.Mask);
        var rerun = Rerun(m, backend, beams, length, out var decoder);
        using var _ = decoder;
        var identity = Enumerable.Range(0, rows).ToArray();
        var (expected, actual, plain) = (new float[rows * vocab], new float[rows * vocab], new float[rows * vocab]);
        double causalError = 0;
        for (int t = 1; t < length - 1; t++)
        {
            var buffer = new int[rows * length];
            for (int r = 0; r < rows; r++)
                for (int i = 0; i < length; i++) buffer[r * length + i] = i < t ? final[r * length + i] : Eos;
            rerun.Compute(buffer, rows, t, identity, expected);
            cached.Compute(buffer, rows, t, identity, actual);
            causal.Compute(buffer, rows, t, identity, plain);
            OpHarness.AssertClose(expected.Select(v => (double)v).ToArray(), actual, what: $"seed {seed} step {t} logits");
            causalError = Math.Max(causalError, expected.Zip(plain).Max(p => Math.Abs(p.First - p.Second)));
        }
        // The pads matter: plain causal masks (what the cache did before) give other logits on these buffers.
        Assert.True(causalError > 1e-2, $"plain causal masks agree with the t5x rerun to {causalError:E2}: the pads were not exercised");
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    public void GreedyAndBeamDecodesMatchTheRerunWhenPadsAreDecoded(int seed)
    {
        var m = Make(seed);
        var options = new DecodeOptions(Bos: 0, Eos: Eos, Length: 12);
        using var backend = new CpuBackend();
        using var cached = new T5StepLogits(m.Weights, Small, backend, m.Memory, m.Mask, t5xTargetMasks: true);

        var greedyRerun = Rerun(m, backend, 1, options.Length, out var greedyDecoder);
        using var _ = greedyDecoder;
        var greedy = GreedyDecoder.Decode(cached, options, Batch);
        var greedyRef = GreedyDecoder.Decode(greedyRerun, options, Batch);
        // The same decode with the greedy choice made in the step graph (GreedyPickOp), as the GPU runs it.
        using var picking = new T5StepLogits(m.Weights, Small, backend, m.Memory, m.Mask, t5xTargetMasks: true, greedyEos: Eos);
        Assert.True(picking.CanPick);
        Assert.False(cached.CanPick);
        var picked = GreedyDecoder.Decode(picking, options, Batch);
        for (int b = 0; b < Batch; b++)
        {
            Assert.Equal(greedyRef.Tokens[b], greedy.Tokens[b]);
            Assert.Equal(greedyRef.LogProbs[b], greedy.LogProbs[b], 1e-4);
            Assert.Equal(greedy.Tokens[b], picked.Tokens[b]);
            Assert.Equal(greedy.LogProbs[b], picked.LogProbs[b], 1e-6);
            for (int t = 0; t < greedy.Margins[b].Length; t++) Assert.Equal(greedy.Margins[b][t], picked.Margins[b][t], 1e-5);
        }

        var beamOptions = new BeamOptions(Beams: 3, PerNode: 2);
        var beamRerun = Rerun(m, backend, beamOptions.Beams, options.Length, out var beamDecoder);
        using var __ = beamDecoder;
        var beam = BeamSearch.Decode(cached, options, Batch, beamOptions);
        var beamRef = BeamSearch.Decode(beamRerun, options, Batch, beamOptions);
        for (int b = 0; b < Batch; b++)
        {
            Assert.Equal(beamRef.Sequences[b], beam.Sequences[b]);
            Assert.Equal(beamRef.Finished[b], beam.Finished[b]);
            for (int i = 0; i < beamOptions.Beams; i++) Assert.Equal(beamRef.Scores[b][i], beam.Scores[b][i], 1e-4);
        }

        // The rule really fired: some decoded hypothesis holds a pad before its end.
        var decoded = greedy.Tokens.Concat(beam.Sequences.SelectMany(s => s));
        Assert.Contains(decoded, row => PadBeforeEnd(row));
    }

    [Fact]
    public void AQueryWhoseNextSlotIsPadIsRejected()
    {
        var m = Make(5);
        using var backend = new CpuBackend();
        using var cached = new T5StepLogits(m.Weights, Small, backend, m.Memory, m.Mask, t5xTargetMasks: true);
        var buffer = new int[Batch * 6];                          // all pads: the query read at slot 0 would be fully masked
        var e = Assert.Throws<InvalidInputException>(() => cached.Compute(buffer, Batch, 1, [0, 1], new float[Batch * Small.VocabSize]));
        Assert.Contains("slot 1", e.Message);
    }

    private static bool PadBeforeEnd(int[] row)
    {
        int end = Array.IndexOf(row, Eos, 1);
        return row.Skip(1).Take((end < 0 ? row.Length : end) - 1).Contains(0);
    }
}
