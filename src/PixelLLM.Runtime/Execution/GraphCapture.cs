namespace PixelLLM.Runtime.Execution;

/// <summary>
/// A backend that can record a run's launches once and replay them with one call (CUDA graphs). The executor decides
/// when (<see cref="GraphCapture"/>); the backend only records and replays.
/// </summary>
public interface IGraphCaptureBackend
{
    /// <summary>Whether capture may be attempted at all (driver support, not switched off).</summary>
    bool CaptureEnabled { get; }

    /// <summary>
    /// Changes whenever device addresses that captured launches bake in may have moved (a scratch buffer regrown, …):
    /// a recording made under another generation must not be replayed.
    /// </summary>
    long CaptureGeneration { get; }

    /// <summary>
    /// Records what <paramref name="launches"/> issues through <see cref="IBackend.Execute"/> without running it. Nothing
    /// inside may read, write or synchronise. Throws <see cref="BackendException"/> when the launches cannot be recorded.
    /// </summary>
    ICapturedLaunches Capture(Action launches);
}

/// <summary>A recorded run: <see cref="Replay"/> queues every recorded launch again (asynchronously, like Execute).</summary>
public interface ICapturedLaunches : IDisposable
{
    /// <summary>Queues one replay.</summary>
    void Replay();
}

/// <summary>What one executor's capture did so far (for the graph-replay check and the tests).</summary>
public readonly record struct CaptureStatistics(int Captures, int Replays, int Invalidations, int Failures, string? LastFailure);

/// <summary>
/// The executor's capture policy. An executor has one shape and fixed arena addresses, so one recording serves every
/// later run: run 1 is eager (kernels load, cuBLAS and scratch buffers settle), run 2 records and replays, later runs
/// replay. A recording is dropped and redone when the backend's generation moves; after <see cref="MaxFailures"/>
/// failed recordings the executor stays eager (the fallback: correct, only slower).
/// </summary>
internal sealed class GraphCapture : IDisposable
{
    public const int EagerRunsBeforeCapture = 1;
    public const int MaxFailures = 3;

    private ICapturedLaunches? recording;
    private long generation;
    private int runs, captures, replays, invalidations, failures;
    private string? lastFailure;

    public CaptureStatistics Statistics => new(captures, replays, invalidations, failures, lastFailure);

    /// <summary>Replays (recording first when due) and returns true, or returns false: the caller launches eagerly.</summary>
    public bool TryRun(IGraphCaptureBackend backend, Action launches)
    {
        runs++;
        if (recording is not null)
        {
            if (generation == backend.CaptureGeneration) return Replay();
            Invalidate();
        }
        if (!backend.CaptureEnabled || runs <= EagerRunsBeforeCapture || failures >= MaxFailures) return false;
        long before = backend.CaptureGeneration;
        try { recording = backend.Capture(launches); }
        catch (BackendException e)
        {
            failures++;
            lastFailure = e.Message;
            return false;
        }
        if (backend.CaptureGeneration != before)
        {
            Invalidate();
            return false;
        }
        generation = before;
        captures++;
        return Replay();
    }

    /// <summary>Drops the recording (the next run records again).</summary>
    public void Invalidate()
    {
        if (recording is null) return;
        recording.Dispose();
        recording = null;
        invalidations++;
    }

    private bool Replay()
    {
        recording!.Replay();
        replays++;
        return true;
    }

    public void Dispose()
    {
        recording?.Dispose();
        recording = null;
    }
}
