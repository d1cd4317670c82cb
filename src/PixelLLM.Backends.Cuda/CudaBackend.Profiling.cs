using PixelLLM.Backends.Cuda.Device;
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
}

/// <summary>
/// Event pairs recorded on the backend's stream: <see cref="Begin"/>/<see cref="End"/> record a node's pair, and, as
/// the queue's <see cref="ILaunchObserver"/>, <see cref="Before"/>/<see cref="After"/> one per launch. Events are pooled
/// and reused across runs; <see cref="Collect"/> and <see cref="CollectLaunches"/> read cuEventElapsedTime of each pair
/// once they completed.
/// </summary>
internal sealed class CudaOpTimer(CudaQueue queue, object gate) : IOpTimer, ILaunchObserver
{
    private readonly EventPairs nodes = new(queue), launches = new(queue);
    private readonly List<string> kernels = [];

    public int Pending => nodes.Count;

    public void Begin() => Record(nodes);

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

    public void Collect(Span<double> milliseconds)
    {
        lock (gate) nodes.Collect(milliseconds);
    }

    public IReadOnlyList<LaunchTiming> CollectLaunches()
    {
        lock (gate)
        {
            var times = new double[launches.Count];
            launches.Collect(times);
            var result = new LaunchTiming[times.Length];
            for (int i = 0; i < times.Length; i++) result[i] = new(kernels[i], times[i]);
            kernels.Clear();
            return result;
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (queue.LaunchObserver == this) queue.LaunchObserver = null;
            queue.MakeCurrent();
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

        public void Record()
        {
            if (recorded == events.Count) events.Add(queue.Driver.CreateEvent());
            queue.Driver.Record(events[recorded++], queue.MainStream);
        }

        public void Collect(Span<double> milliseconds)
        {
            queue.MakeCurrent();
            for (int i = 0; i < Count; i++) milliseconds[i] = queue.Driver.ElapsedMilliseconds(events[2 * i], events[2 * i + 1]);
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
