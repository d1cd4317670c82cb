namespace PixelLLM.Backends.Cuda.Interop;

public sealed unsafe partial class CudaDriver
{
    private const uint EventDisableTiming = 2; // CU_EVENT_DISABLE_TIMING: cheapest to record, the fork/join kind

    /// <summary>An event only for ordering streams (no timing).</summary>
    public nint CreateOrderingEvent() { nint e; Check(_eventCreate(&e, EventDisableTiming), "cuEventCreate"); return e; }

    /// <summary>
    /// Work queued on <paramref name="stream"/> after this call waits for <paramref name="event"/>'s last record (and,
    /// inside a stream capture, joins that stream into the capture: the fork/join pattern of multi-stream graphs).
    /// </summary>
    public void StreamWaitEvent(nint stream, nint @event) => Check(_streamWaitEvent(stream, @event, 0), "cuStreamWaitEvent");

    private readonly delegate* unmanaged<nint, nint, uint, int> _streamWaitEvent;
}
