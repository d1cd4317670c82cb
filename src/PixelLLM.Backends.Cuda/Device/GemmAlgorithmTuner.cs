using PixelLLM.Backends.Cuda.Interop;

namespace PixelLLM.Backends.Cuda.Device;

/// <summary>What tuning found for one cuBLASLt GEMM shape: how many algorithms were timed and what the pick saves a call.</summary>
/// <param name="Shape">M×N×K, storage type and epilogue, as the profiler names the call.</param>
/// <param name="Candidates">Algorithms the heuristic offered and that ran.</param>
/// <param name="Chosen">
/// Index of the fastest: 0 is what would run untuned (cuBLAS GemmEx for a plain GEMM, marked in the shape, else the
/// heuristic's pick), then the heuristic's candidates in its order.
/// </param>
/// <param name="HeuristicMicroseconds">Time of one call as it would run untuned (candidate 0).</param>
/// <param name="ChosenMicroseconds">Time of one call with the fastest.</param>
/// <param name="Cached">Taken from the tuning cache of an earlier process (not timed here: both times NaN).</param>
public readonly record struct GemmTuningResult(string Shape, int Candidates, int Chosen, float HeuristicMicroseconds, float ChosenMicroseconds,
    bool Cached = false);

/// <summary>
/// Times the algorithms cuBLASLt's heuristic offers for a GEMM shape on that call's own operands, once, and keeps the
/// fastest. The encoders' GEMMs have few rows (576 SAM tokens, 730 EVA02) for a 132-SM card, where the heuristic's
/// first pick is a guess about waves and split-K; timing its top candidates is what TensorRT-style engines do. Only
/// outside graph capture (the executor's first run is eager), and never for a call that reads its residual from its
/// own output (repeating it would add the residual again). Each timed call starts with L2 evicted (a fill of twice its
/// size): in a forward pass every weight is read once, cold, and candidates timed on operands left in L2 by the call
/// before (session 17's way) ranked the algorithms for a regime the pass never sees. Opt-in until measured:
/// $PIXELLLM_GEMM_TUNE=1.
/// </summary>
internal sealed class GemmAlgorithmTuner(CudaDriver driver, Func<nint> stream, Func<bool> capturing, Action? quiesce = null,
    GemmTuningCache? cache = null, bool retime = false, long l2Bytes = 0) : IDisposable
{
    /// <summary>
    /// Environment variable that switches tuning on: 1 takes earlier processes' choices from the tuning cache and times
    /// only new shapes; fresh times every shape again (and rewrites the cache).
    /// </summary>
    public const string Variable = "PIXELLLM_GEMM_TUNE";

    /// <summary>The tuner <paramref name="setting"/> (the value of $PIXELLLM_GEMM_TUNE) asks for (null when unset or 0), its cache at <paramref name="cachePath"/>.</summary>
    public static GemmAlgorithmTuner? FromSetting(string? setting, CudaDriver driver, Func<nint> stream, Func<bool> capturing, Action quiesce, Func<string> cachePath,
        long l2Bytes) =>
        setting switch
        {
            "1" => new GemmAlgorithmTuner(driver, stream, capturing, quiesce, new GemmTuningCache(cachePath()), l2Bytes: l2Bytes),
            "fresh" => new GemmAlgorithmTuner(driver, stream, capturing, quiesce, new GemmTuningCache(cachePath()), retime: true, l2Bytes: l2Bytes),
            _ => null,
        };

    /// <summary>How the candidates are timed, part of the cache's file name so choices timed another way are not reused.</summary>
    public const string TimingMethod = "coldL2";

    /// <summary>Algorithms asked of the heuristic (its top ones, in its order).</summary>
    public const int MaxCandidates = 8;

    /// <summary>Timed calls per algorithm, after one untimed call.</summary>
    public const int TimedRuns = 3;

    private nint start, end;
    private ulong evictor;
    private readonly List<GemmTuningResult> results = [];

    /// <summary>Every tuned shape so far, in the order first seen.</summary>
    public IReadOnlyList<GemmTuningResult> Results => results;

    /// <summary>Whether a GEMM queued now may be timed (not while a graph is being recorded).</summary>
    public bool CanTune => !capturing();

    /// <summary>
    /// Milliseconds per call of <paramref name="run"/> (every stream idle first, one untimed call, then the mean of
    /// <see cref="TimedRuns"/> calls, each after L2 is evicted and timed alone between two events), or null when the
    /// algorithm refuses (<paramref name="run"/> returns false).
    /// </summary>
    public float? Time(Func<bool> run)
    {
        quiesce?.Invoke(); // the other lane's work would share the card with the timed calls
        if (!run()) return null;
        if (start == 0) start = driver.CreateEvent();
        if (end == 0) end = driver.CreateEvent();
        float total = 0;
        for (int i = 0; i < TimedRuns; i++)
        {
            EvictL2();
            driver.Record(start, stream());
            if (!run()) return null;
            driver.Record(end, stream());
            total += driver.ElapsedMilliseconds(start, end);
        }
        return total / TimedRuns;
    }

    /// <summary>Overwrites twice the L2's size of a buffer of its own, so the timed call finds none of its operands there.</summary>
    private void EvictL2()
    {
        if (l2Bytes <= 0) return;
        if (evictor == 0) evictor = driver.Alloc(2 * l2Bytes);
        driver.FillAsync(evictor, 0, 2 * l2Bytes, stream());
    }

    /// <summary>An earlier process's choice for <paramref name="key"/> among <paramref name="candidates"/> (not when re-timing).</summary>
    public bool TryCached(string key, string shape, int candidates, out int choice)
    {
        choice = 0;
        if (retime || cache is null || !cache.TryGet(key, candidates, out choice)) return false;
        results.Add(new GemmTuningResult(shape, candidates, choice, float.NaN, float.NaN, Cached: true));
        return true;
    }

    /// <summary>Records the outcome for one shape (and in the cache under <paramref name="key"/>) and returns the index to use (see <see cref="Fastest"/>).</summary>
    public int Choose(string shape, string key, IReadOnlyList<float?> milliseconds)
    {
        int chosen = Fastest(milliseconds);
        int ran = milliseconds.Count(t => t is not null);
        if (ran > 0 && milliseconds[chosen] is float best)
        {
            results.Add(new GemmTuningResult(shape, ran, chosen, (milliseconds[0] ?? float.NaN) * 1000f, best * 1000f));
            cache?.Set(key, milliseconds.Count, chosen);
        }
        return chosen;
    }

    /// <summary>
    /// The index of the fastest algorithm that ran; the heuristic's pick (0) on ties, when nothing ran, or when it is
    /// within 2 % of the fastest (timing noise should not trade a known-good algorithm for an equal one).
    /// </summary>
    public static int Fastest(IReadOnlyList<float?> milliseconds)
    {
        int best = -1;
        for (int i = 0; i < milliseconds.Count; i++)
            if (milliseconds[i] is float t && float.IsFinite(t) && (best < 0 || t < milliseconds[best]!.Value)) best = i;
        if (best <= 0) return 0;
        return milliseconds[0] is float first && float.IsFinite(first) && first <= milliseconds[best]!.Value * 1.02f ? 0 : best;
    }

    public void Dispose()
    {
        if (start != 0) driver.DestroyEvent(start);
        if (end != 0) driver.DestroyEvent(end);
        if (evictor != 0) driver.Free(evictor);
        start = end = 0;
        evictor = 0;
    }
}
