using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Device;

/// <summary>The queue's lanes: lane 0 is its stream; lane 1, a graph's side lane, a second stream with resources of its own.</summary>
internal sealed partial class CudaQueue
{
    /// <summary>
    /// What work on one stream owns: the stream, cuBLAS and cuBLASLt bound to it, their workspace and the ops' scratch
    /// slots. Lane 0 is the queue's stream; lane 1 (a graph's side lane, <see cref="UseLane"/>) gets its own of each, so
    /// two lanes running at once never share a workspace or a scratch buffer.
    /// </summary>
    private sealed class QueueLane(nint stream, ulong workspace)
    {
        public readonly nint Stream = stream;
        public readonly ulong Workspace = workspace;
        public readonly (ulong Ptr, long Bytes)[] Scratch = new (ulong, long)[ScratchSlots];
        public Cublas? Cublas;
        public CublasLt? Lt;
    }

    private readonly QueueLane[] lanes = new QueueLane[2];
    private QueueLane current;
    private nint forkEvent, joinEvent;

    /// <summary>
    /// Queues what follows on lane 0 or on lane 1, a second stream with its own cuBLAS handles, workspace and scratch
    /// (created on first use, outside any capture: the executor's first run is eager). Ordering between the lanes is
    /// only what <see cref="ForkSideLane"/> and <see cref="JoinSideLane"/> add.
    /// </summary>
    public void UseLane(int lane)
    {
        if (lane is not (0 or 1)) throw new BackendException($"lane {lane}: only lanes 0 and 1 exist");
        if (lane == 1 && lanes[1] is null)
        {
            if (Capturing) throw new BackendException("the side lane's stream must be created before a graph capture (the run goes eagerly instead)");
            // Everything first, then published: a failure part way leaks nothing and leaves no half-made lane behind.
            nint stream = Driver.CreateStream(), fork = 0, join = 0;
            ulong workspace = 0;
            try
            {
                workspace = Driver.Alloc(CublasWorkspaceBytes);
                fork = Driver.CreateOrderingEvent();
                join = Driver.CreateOrderingEvent();
            }
            catch
            {
                if (fork != 0) Driver.DestroyEvent(fork);
                if (workspace != 0) Driver.Free(workspace);
                Driver.DestroyStream(stream);
                throw;
            }
            (lanes[1], forkEvent, joinEvent) = (new QueueLane(stream, workspace), fork, join);
        }
        current = lanes[lane];
    }

    /// <summary>Waits for every lane's stream: nothing else runs while the tuner times a candidate.</summary>
    private void Quiesce()
    {
        foreach (var lane in lanes)
            if (lane is not null) Driver.Synchronize(lane.Stream);
    }

    /// <summary>Lane 1's later work waits for everything queued on lane 0 so far.</summary>
    public void ForkSideLane()
    {
        EnsureSideLane();
        Driver.Record(forkEvent, MainStream);
        Driver.StreamWaitEvent(lanes[1].Stream, forkEvent);
    }

    /// <summary>Lane 0's later work waits for everything queued on lane 1 so far.</summary>
    public void JoinSideLane()
    {
        EnsureSideLane();
        Driver.Record(joinEvent, lanes[1].Stream);
        Driver.StreamWaitEvent(MainStream, joinEvent);
    }

    private void EnsureSideLane()
    {
        var keep = current;
        UseLane(1);
        current = keep;
    }
}
