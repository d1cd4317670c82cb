using PixelLLM.Runtime.Execution;

namespace PixelLLM.Backends.Cuda;

/// <summary>
/// A graph's side lane on a second stream (<see cref="Device.CudaQueue.UseLane"/>): SAM beside EVA02 in the vision graph,
/// each encoder's small GEMMs and attentions leaving most of the card idle on their own. The lanes meet only at the
/// executor's fork and join events, which a CUDA-graph capture records as the usual multi-stream fork/join.
/// </summary>
public sealed partial class CudaBackend : IConcurrentLanesBackend
{
    /// <summary>Environment variable that, set to 1, runs side lanes concurrently (see <see cref="ConcurrentLanes"/>).</summary>
    public const string ConcurrentLanesVariable = "PIXELLLM_CONCURRENT_LANES";

    /// <summary>
    /// Whether executors compiled from now on run a graph's side lane on a second stream (their arenas then keep the two
    /// lanes' tensors apart inside the lanes' window). Opt-in until measured on a device: $PIXELLLM_CONCURRENT_LANES=1 (or the card's tuned profile).
    /// </summary>
    public bool ConcurrentLanes { get; set; }

    /// <inheritdoc/>
    public void UseLane(int lane)
    {
        lock (gate)
        {
            queue.MakeCurrent();
            queue.UseLane(lane);
        }
    }

    /// <inheritdoc/>
    public void ForkSideLane()
    {
        lock (gate)
        {
            queue.MakeCurrent();
            queue.ForkSideLane();
        }
    }

    /// <inheritdoc/>
    public void JoinSideLane()
    {
        lock (gate)
        {
            queue.MakeCurrent();
            queue.JoinSideLane();
        }
    }
}
