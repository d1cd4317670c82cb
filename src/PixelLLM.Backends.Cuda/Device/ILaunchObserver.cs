namespace PixelLLM.Backends.Cuda.Device;

/// <summary>
/// Told of every launch the queue makes (kernel, cuBLAS call, copy, fill), right before and right after it is queued:
/// a profiled run's per-launch timer (<see cref="CudaOpTimer"/>). Null outside profiling, so launching costs nothing more.
/// </summary>
internal interface ILaunchObserver
{
    /// <summary>The next thing queued is <paramref name="kernel"/>.</summary>
    void Before(string kernel);

    /// <summary>What <see cref="Before"/> named has been queued, or failed to be (the queue calls it either way).</summary>
    void After();
}
