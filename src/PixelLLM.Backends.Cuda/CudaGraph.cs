using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Backends.Cuda;

/// <summary>An instantiated CUDA graph (from <see cref="CudaBackend.Capture"/>): one launch replays every captured kernel.</summary>
public sealed class CudaGraph : ICapturedLaunches
{
    private readonly CudaQueue queue;
    private nint exec;

    internal CudaGraph(CudaQueue queue, nint exec)
    {
        this.queue = queue;
        this.exec = exec;
    }

    /// <summary>Queues one replay on the backend's stream (asynchronous; the backend's Synchronize waits for it).</summary>
    public void Launch()
    {
        ObjectDisposedException.ThrowIf(exec == 0, this);
        queue.MakeCurrent();
        queue.Driver.LaunchGraph(exec, queue.MainStream);
        queue.Replays++;
    }

    /// <inheritdoc/>
    public void Replay() => Launch();

    public void Dispose()
    {
        if (exec == 0) return;
        queue.MakeCurrent();
        queue.Driver.DestroyGraphExec(exec);
        exec = 0;
    }
}
