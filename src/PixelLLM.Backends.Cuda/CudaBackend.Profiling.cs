using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Backends.Cuda;

/// <summary>Profiling on CUDA: an event pair on the stream around each node, read after the run's synchronisation.</summary>
public sealed partial class CudaBackend : IProfilingSupport
{
    /// <inheritdoc/>
    public IOpTimer CreateOpTimer()
    {
        lock (gate) return new CudaOpTimer(queue, gate);
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
/// Event pairs recorded on the backend's stream: <see cref="Begin"/>/<see cref="End"/> record events 2k and 2k+1 (events
/// are pooled and reused across runs), <see cref="Collect"/> reads cuEventElapsedTime of each pair once they completed.
/// </summary>
internal sealed class CudaOpTimer(CudaQueue queue, object gate) : IOpTimer
{
    private readonly List<nint> events = [];
    private int recorded;

    public int Pending => recorded / 2;

    public void Begin() => Record();

    public void End() => Record();

    private void Record()
    {
        lock (gate)
        {
            queue.MakeCurrent();
            if (recorded == events.Count) events.Add(queue.Driver.CreateEvent());
            queue.Driver.Record(events[recorded++], queue.Stream);
        }
    }

    public void Collect(Span<double> milliseconds)
    {
        lock (gate)
        {
            queue.MakeCurrent();
            for (int i = 0; i < Pending; i++) milliseconds[i] = queue.Driver.ElapsedMilliseconds(events[2 * i], events[2 * i + 1]);
            recorded = 0;
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            queue.MakeCurrent();
            foreach (var e in events) queue.Driver.DestroyEvent(e);
            events.Clear();
            recorded = 0;
        }
    }
}
