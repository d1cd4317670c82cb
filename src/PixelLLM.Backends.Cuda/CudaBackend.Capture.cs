using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// CUDA-graph capture for <see cref="GraphExecutor"/>: one executor's launches (one decode step of one batch × beam shape)
/// recorded with stream capture and replayed with one cuGraphLaunch. The executor owns the policy (when to record, when to
/// drop a recording); this part records, reports when recorded addresses moved, and can be switched off.
/// </summary>
public sealed partial class CudaBackend : IGraphCaptureBackend
{
    /// <summary>Environment variable that switches capture off when set to 0 (every run then launches eagerly).</summary>
    public const string GraphsVariable = "PIXELLLM_CUDA_GRAPHS";

    /// <summary>Whether executors on this backend may record and replay CUDA graphs (default: on unless $PIXELLLM_CUDA_GRAPHS=0).</summary>
    public bool GraphCapture { get; set; }

    /// <inheritdoc/>
    public bool CaptureEnabled => GraphCapture && queue.Driver.HasGraphs;

    /// <inheritdoc/>
    public long CaptureGeneration
    {
        get { lock (gate) return queue.ScratchGeneration; }
    }

    ICapturedLaunches IGraphCaptureBackend.Capture(Action launches) => Capture(launches);

    /// <summary>
    /// Records the launches <paramref name="launches"/> issues (through <see cref="Execute"/>) into a CUDA graph instead of
    /// running them; replay it with <see cref="CudaGraph.Launch"/>. No host reads, writes or synchronisation may happen
    /// inside. cuBLAS gets its handle and explicit workspace before the capture starts; a scratch buffer that would have to
    /// grow inside fails the capture. On failure the capture is ended and discarded and a <see cref="BackendException"/> says why.
    /// </summary>
    public CudaGraph Capture(Action launches)
    {
        lock (gate)
        {
            queue.MakeCurrent();
            queue.PrepareCapture();
            queue.Driver.BeginCapture(queue.MainStream);
            queue.Capturing = true;
        }
        try { launches(); }
        catch (Exception e)
        {
            lock (gate)
            {
                queue.Capturing = false;
                try { queue.Driver.DestroyGraphExec(queue.Driver.EndCaptureAndInstantiate(queue.MainStream)); }
                catch (BackendException) { } // the capture was already invalidated; ending it is all that matters
            }
            lock (gate) activity = activity with { CaptureFailures = activity.CaptureFailures + 1 };
            if (e is BackendException) throw new BackendException($"CUDA graph capture failed: {e.Message}");
            throw;
        }
        lock (gate)
        {
            queue.Capturing = false;
            activity = activity with { Captures = activity.Captures + 1 };
            return new CudaGraph(queue, queue.Driver.EndCaptureAndInstantiate(queue.MainStream));
        }
    }
}
