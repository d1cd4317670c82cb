using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// Profiling on CUDA: an event pair on the stream around each node, and (when asked) around each launch inside it,
/// read after the run's synchronisation.
/// </summary>
public sealed partial class CudaBackend : IProfilingSupport
{
    /// <inheritdoc/>
    public IOpTimer CreateOpTimer(bool timeLaunches = false)
    {
        lock (gate)
        {
            var timer = new CudaOpTimer(queue, gate);
            if (timeLaunches) queue.LaunchObserver = timer;
            return timer;
        }
    }

    /// <inheritdoc/>
    public DType StoredAs(DType declared) => StorageOf(declared);

    /// <inheritdoc/>
    public long KernelLaunches
    {
        get { lock (gate) return queue.Launches; }
    }

    /// <inheritdoc/>
    public string NodeTiming =>
        CudaOpTimer.ConfiguredHoldMilliseconds is var ms and > 0
            ? $"event pairs, the stream held while the host queues (holds give up after {ms} ms)"
            : "event pairs, the host's launch gaps included (PIXELLLM_PROFILE_HOLD_MS=0)";
}

/// <summary>
/// Event pairs recorded on the backend's stream: <see cref="Begin"/>/<see cref="End"/> record a node's pair, and, as
/// the queue's <see cref="ILaunchObserver"/>, <see cref="Before"/>/<see cref="After"/> one per launch. Events are pooled
/// and reused across runs; <see cref="Collect"/> and <see cref="CollectLaunches"/> read cuEventElapsedTime of each pair,
/// and from the run's first event to each pair's start, once they completed.
/// </summary>
/// <remarks>
/// Unless <see cref="HoldVariable"/> is 0, the stream is held (<see cref="CudaQueue.Hold"/>) before a run's first node and
/// again before the node after every <see cref="NodesPerHold"/> nodes or <see cref="LaunchesPerHold"/> launches, each hold
/// releasing the one before: the device then runs what the host
/// queued meanwhile back to back, and a bracket times its node's work instead of the host's launch latency (a few µs a
/// node, most of a small node's time). Holds sit between brackets, so their waits are in no node's time; the host
/// releases every hold before it waits for the device (<see cref="CudaDriver.BeforeHostWait"/>), and a hold it cannot
/// release gives up after the variable's milliseconds. Re-holding every few nodes keeps the queue far below the depth at
/// which the host would block on a launch behind the hold.
/// </remarks>
internal sealed class CudaOpTimer : IOpTimer, ILaunchObserver
{
    /// <summary>Milliseconds a hold waits at most (default 100); 0 turns holding off.</summary>
    public const string HoldVariable = "PIXELLLM_PROFILE_HOLD_MS";

    /// <summary>
    /// Nodes and launches queued behind one hold before the next is taken: well under the driver's queue depth (about a
    /// thousand entries, an event pair per node and per timed launch included), past which the host would block on a
    /// launch behind the hold until it times out. A node is never split: one decode-step stack node is ~200 launches.
    /// </summary>
    public const int NodesPerHold = 64, LaunchesPerHold = 128;

    private readonly CudaQueue queue;
    private readonly object gate;
    private readonly EventPairs nodes, launches;
    private readonly List<string> kernels = [];
    private readonly long holdTimeoutNs;
    private readonly Action releaseHolds;

    // Page-locked i64 the holds read: hold t waits until it is ≥ t. It only grows (an interlocked maximum), so one write
    // releases every hold up to it. The driver's hook may run on another backend's thread: it takes no lock, and Dispose
    // waits for any release in flight before it frees the word.
    private nint released;
    private long ticket;
    private int nodesSinceHold, releasesInFlight;
    private long launchesAtHold;
    private volatile bool disposed;

    public CudaOpTimer(CudaQueue queue, object gate)
    {
        this.queue = queue;
        this.gate = gate;
        nodes = new EventPairs(queue);
        launches = new EventPairs(queue);
        holdTimeoutNs = ConfiguredHoldMilliseconds * 1_000_000L;
        releaseHolds = ReleaseHolds;
        if (holdTimeoutNs > 0) queue.Driver.BeforeHostWait += releaseHolds;
    }

    /// <summary>The hold timeout this process's <see cref="HoldVariable"/> asks for.</summary>
    internal static long ConfiguredHoldMilliseconds => HoldMilliseconds(Environment.GetEnvironmentVariable(HoldVariable));

    /// <summary>The hold timeout a value of <see cref="HoldVariable"/> asks for: unset 100, else a whole number ≥ 0.</summary>
    internal static long HoldMilliseconds(string? value) =>
        value is null ? 100
        : long.TryParse(value, out long ms) && ms >= 0 ? ms
        : throw new BackendException($"{HoldVariable}={value}: expected a whole number of milliseconds ≥ 0");

    public int Pending => nodes.Count;

    public void Begin()
    {
        lock (gate)
        {
            queue.MakeCurrent();
            if (holdTimeoutNs > 0 && (ReleasedTicket >= ticket || nodesSinceHold >= NodesPerHold || queue.Launches - launchesAtHold >= LaunchesPerHold)) Hold();
            nodesSinceHold++;
            nodes.Record();
        }
    }

    public void End() => Record(nodes);

    public void Before(string kernel)
    {
        lock (gate)
        {
            kernels.Add(kernel);
            Record(launches);
        }
    }

    public void After() => Record(launches);

    private void Record(EventPairs pairs)
    {
        lock (gate)
        {
            queue.MakeCurrent();
            pairs.Record();
        }
    }

    /// <summary>Queues the next hold, then releases the one before it, whose nodes the device may now run.</summary>
    private unsafe void Hold()
    {
        if (released == 0)
        {
            nint word = queue.Driver.AllocHost(sizeof(long));
            *(long*)word = 0; // page-locked memory comes uninitialised
            released = word;
        }
        long next = Interlocked.Increment(ref ticket);
        queue.Hold(released, next, holdTimeoutNs);
        Release(next - 1);
        nodesSinceHold = 0;
        launchesAtHold = queue.Launches;
    }

    private unsafe long ReleasedTicket => released == 0 ? 0 : Volatile.Read(ref *(long*)released);

    private void ReleaseHolds()
    {
        Interlocked.Increment(ref releasesInFlight);
        try
        {
            if (!disposed) Release(Volatile.Read(ref ticket));
        }
        finally { Interlocked.Decrement(ref releasesInFlight); }
    }

    private unsafe void Release(long upTo)
    {
        if (released == 0) return;
        ref long word = ref *(long*)released;
        for (long seen = Volatile.Read(ref word); seen < upTo; seen = Volatile.Read(ref word))
            if (Interlocked.CompareExchange(ref word, upTo, seen) == seen) return;
    }

    public void Collect(Span<Bracket> brackets)
    {
        lock (gate) nodes.Collect(brackets, nodes.Origin);
    }

    public IReadOnlyList<LaunchTiming> CollectLaunches()
    {
        lock (gate)
        {
            var times = new Bracket[launches.Count];
            launches.Collect(times, nodes.Origin); // the node brackets' first event, still recorded until the next run
            var result = new LaunchTiming[times.Length];
            for (int i = 0; i < times.Length; i++) result[i] = new(kernels[i], times[i].Ms, times[i].StartMs);
            kernels.Clear();
            return result;
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (queue.LaunchObserver == this) queue.LaunchObserver = null;
            queue.Driver.BeforeHostWait -= releaseHolds;
            queue.MakeCurrent();
            if (released != 0)
            {
                Release(ticket);
                disposed = true;
                SpinWait.SpinUntil(() => Volatile.Read(ref releasesInFlight) == 0);
                queue.Driver.Synchronize(queue.MainStream); // no hold may still read the memory freed next
                queue.Driver.FreeHost(released);
                released = 0;
            }
            nodes.Dispose();
            launches.Dispose();
            kernels.Clear();
        }
    }

    /// <summary>Events 2k and 2k+1 bracket pair k; the pool grows to the most pairs one run records.</summary>
    private sealed class EventPairs(CudaQueue queue) : IDisposable
    {
        private readonly List<nint> events = [];

        private int recorded;

        public int Count => recorded / 2;

        /// <summary>The first pair's start event (0 before any): the origin of a run's bracket starts.</summary>
        public nint Origin => events.Count > 0 ? events[0] : 0;

        public void Record()
        {
            if (recorded == events.Count) events.Add(queue.Driver.CreateEvent());
            queue.Driver.Record(events[recorded++], queue.MainStream);
        }

        /// <summary>Each pair's start after <paramref name="origin"/> and its time, then starts over.</summary>
        public void Collect(Span<Bracket> brackets, nint origin)
        {
            queue.MakeCurrent();
            for (int i = 0; i < Count; i++)
                brackets[i] = new(queue.Driver.ElapsedMilliseconds(origin, events[2 * i]), queue.Driver.ElapsedMilliseconds(events[2 * i], events[2 * i + 1]));
            recorded = 0;
        }

        public void Dispose()
        {
            foreach (var e in events) queue.Driver.DestroyEvent(e);
            events.Clear();
            recorded = 0;
        }
    }
}
