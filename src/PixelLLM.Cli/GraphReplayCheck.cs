using System.Globalization;
using PixelLLM.Models;
using PixelLLM.Models.Common;
using PixelLLM.Models.ModelFiles;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Weights;

namespace PixelLLM.Cli;

/// <summary>One (beams) case of <see cref="GraphReplayCheck"/>: the largest logit difference and what capture did.</summary>
internal sealed record GraphReplayResult(int Beams, int Steps, double MaxAbsDiff, double MaxAbs, bool Identical, bool SameTokens,
    int Captures, int Replays, double Tolerance)
{
    /// <summary>Replay agrees with eager (relative to the largest logit) and actually replayed every step after the first.</summary>
    public bool Passed => MaxAbsDiff <= Tolerance * Math.Max(MaxAbs, 1e-30) && SameTokens && Replays >= Steps - 1 && Captures >= 1;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"beam {Beams}: {Steps} steps, max |replay − eager| {MaxAbsDiff:0.00e+00} of max |logit| {MaxAbs:F3} " +
        $"({(Identical ? "bitwise identical" : "not bitwise identical")}), tokens {(SameTokens ? "same" : "DIFFER")}, " +
        $"{Captures} capture(s), {Replays} replays  {(Passed ? "pass" : "FAIL")}");
}

/// <summary>
/// Graph replay == eager: the T5 KV-cache decode step (random weights, a random memory, beams reordered every step) run
/// once with every launch eager and once with the step recorded and replayed, on the same backend, same ids, same
/// positions; the logits of every step are compared, and with beams the step's beam candidates (2 per beam, as the
/// caption task keeps) too: indices exactly, values like the logits. A backend that cannot record fails the check (Replays = 0).
/// </summary>
internal static class GraphReplayCheck
{
    public const double Tolerance = 1e-6;

    public static GraphReplayResult Run(IBackend backend, PixelLlmConfig config, IWeightSource weights, int beams, int steps, int seed)
    {
        int memoryLength = config.VisualTokens + BenchStages.ContextTokens;
        int vocab = config.T5.VocabSize, rows = beams;
        steps = Math.Min(steps, config.MaxCaptionLength);
        var random = new Random(seed);
        var memoryValues = new float[memoryLength * config.T5.DModel];
        for (int i = 0; i < memoryValues.Length; i++) memoryValues[i] = (float)(random.NextDouble() * 2 - 1);
        var memory = HostTensor.FromArray(memoryValues, 1, memoryLength, config.T5.DModel);
        var t5 = new ScopedWeights(weights, "t5");

        using var eagerBackend = new CaptureControl(backend, allowCapture: false);
        using var replayBackend = new CaptureControl(backend, allowCapture: true);
        int? keep = beams > 1 ? 2 * beams : null;
        using var eager = new T5IncrementalDecoder(t5, config.T5, eagerBackend, 1, beams, config.MaxCaptionLength, memoryLength, beamKeep: keep);
        using var replayed = new T5IncrementalDecoder(t5, config.T5, replayBackend, 1, beams, config.MaxCaptionLength, memoryLength, beamKeep: keep);
        eager.Prefill(memory);
        replayed.Prefill(memory);

        var ids = Enumerable.Repeat(config.BeginTokenId, rows).ToArray();
        var parents = new int[rows];
        var expected = new float[rows * vocab];
        var actual = new float[rows * vocab];
        var live = new float[rows];
        var (expectedPicks, actualPicks) = (new int[keep ?? 0], new int[keep ?? 0]);
        var (expectedValues, actualValues) = (new float[keep ?? 0], new float[keep ?? 0]);
        double maxDiff = 0, maxAbs = 0;
        bool identical = true, sameTokens = true;
        void Compare(ReadOnlySpan<float> e, ReadOnlySpan<float> a)
        {
            for (int i = 0; i < e.Length; i++)
            {
                maxAbs = Math.Max(maxAbs, Math.Abs(e[i]));
                double d = Math.Abs((double)e[i] - a[i]);
                if (!(d <= maxDiff)) maxDiff = double.IsNaN(d) ? double.PositiveInfinity : d;
                identical &= BitConverter.SingleToInt32Bits(e[i]) == BitConverter.SingleToInt32Bits(a[i]);
            }
        }
        for (int position = 0; position < steps; position++)
        {
            for (int r = 0; r < rows; r++) parents[r] = (r + position) % rows;
            if (keep is not null)
            {
                for (int r = 0; r < rows; r++) live[r] = -0.25f * position * (r + 1);
                eager.SetLiveLogProbs(live);
                replayed.SetLiveLogProbs(live);
            }
            eager.Step(ids, position, parents, expected);
            replayed.Step(ids, position, parents, actual);
            Compare(expected, actual);
            if (keep is not null)
            {
                eager.FetchCandidates(expectedPicks, expectedValues);
                replayed.FetchCandidates(actualPicks, actualValues);
                sameTokens &= expectedPicks.AsSpan().SequenceEqual(actualPicks);
                Compare(expectedValues, actualValues);
            }
            for (int r = 0; r < rows; r++)
            {
                int token = ArgMax(expected.AsSpan(r * vocab, vocab));
                sameTokens &= token == ArgMax(actual.AsSpan(r * vocab, vocab));
                ids[r] = token;
            }
        }
        return new GraphReplayResult(beams, steps, maxDiff, maxAbs, identical, sameTokens, replayBackend.Captures, replayBackend.Replays, Tolerance);
    }

    /// <summary>Random weights of <paramref name="config"/> (f32, or bf16 for the Linear weights as the bench stores them).</summary>
    public static LazyRandomWeights Weights(PixelLlmConfig config, DType weightType, int seed) =>
        new(EngineParameterShapes.For(config), seed, weightType == DType.BF16 ? BenchStages.LinearWeightsAsBf16 : null);

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}

/// <summary>
/// A pass-through backend that either forbids recording (every run eager) or forwards it and counts recordings and
/// replays. Weights are uploaded once: both views share the inner backend. Disposing it leaves the inner one open.
/// </summary>
internal sealed class CaptureControl(IBackend inner, bool allowCapture) : IBackend, IGraphCaptureBackend
{
    public int Captures { get; private set; }
    public int Replays { get; private set; }

    public string Name => inner.Name;
    public IBackendBuffer Allocate(long bytes) => inner.Allocate(bytes);
    public long StorageBytes(TensorDesc desc) => inner.StorageBytes(desc);
    public TensorView AddWeight(HostTensor weight) => inner.AddWeight(weight);
    public void Write(TensorView destination, ReadOnlySpan<byte> source) => inner.Write(destination, source);
    public void Read(TensorView source, Span<byte> destination) => inner.Read(source, destination);
    public void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output) => inner.Execute(node, inputs, output);
    public void Synchronize() => inner.Synchronize();
    public void Copy(TensorView destination, TensorView source) => inner.Copy(destination, source);

    public bool CaptureEnabled => allowCapture && inner is IGraphCaptureBackend { CaptureEnabled: true };
    public long CaptureGeneration => (inner as IGraphCaptureBackend)?.CaptureGeneration ?? 0;

    public ICapturedLaunches Capture(Action launches)
    {
        var recording = ((IGraphCaptureBackend)inner).Capture(launches);
        Captures++;
        return new Counted(recording, this);
    }

    public void Dispose() { }

    private sealed class Counted(ICapturedLaunches recording, CaptureControl owner) : ICapturedLaunches
    {
        public void Replay()
        {
            recording.Replay();
            owner.Replays++;
        }

        public void Dispose() => recording.Dispose();
    }
}
