using PixelLLM.Runtime.Graphs;

namespace PixelLLM.Runtime.Execution;

/// <summary>A block of memory owned by a backend (host memory on the CPU, device memory on a GPU).</summary>
public interface IBackendBuffer : IDisposable
{
    long Length { get; }
}

/// <summary>A tensor placed in a backend buffer.</summary>
public readonly record struct TensorView(IBackendBuffer Buffer, long Offset, TensorDesc Desc);

/// <summary>
/// What a backend implements. Backends know ops, never models: they receive nodes whose inputs and output
/// have already been placed in memory by the scheduler.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Short name ("cpu", "cuda").</summary>
    string Name { get; }

    /// <summary>Allocates an uninitialised buffer (the arena of a compiled graph).</summary>
    IBackendBuffer Allocate(long bytes);

    /// <summary>
    /// Bytes a tensor of <paramref name="desc"/> takes in this backend's memory: what arenas, states and weights are sized
    /// by. By default its own size; a backend storing f32 tensors as 16-bit floats needs half.
    /// </summary>
    long StorageBytes(TensorDesc desc) => desc.ByteSize;

    /// <summary>Makes a weight available; a backend may use host memory in place (zero copy) or upload it once.</summary>
    TensorView AddWeight(HostTensor weight);

    void Write(TensorView destination, ReadOnlySpan<byte> source);
    void Read(TensorView source, Span<byte> destination);

    /// <summary>Runs one node. Views of inputs and the output are precomputed; no allocation should happen here.</summary>
    void Execute(Node node, ReadOnlySpan<TensorView> inputs, TensorView output);

    /// <summary>Waits for queued work (a no-op on synchronous backends).</summary>
    void Synchronize();

    /// <summary>
    /// Copies a placed tensor into another of the same description, after the work queued so far and before what is
    /// queued next. By default through the host; backends with their own memory copy it in place (device to device).
    /// </summary>
    void Copy(TensorView destination, TensorView source)
    {
        if (destination.Desc != source.Desc) throw new ArgumentException($"copy of {source.Desc} into {destination.Desc}");
        var bytes = new byte[source.Desc.ByteSize];
        Read(source, bytes);
        Write(destination, bytes);
    }
}

/// <summary>
/// A backend that can run a graph's side lane (<see cref="Graph.OnSideLane"/>) beside lane 0, e.g. on a second stream.
/// The executor plans memory for it (<see cref="MemoryPlan.Lanes"/>) and calls these around the launches.
/// </summary>
public interface IConcurrentLanesBackend
{
    /// <summary>Whether executors compiled now should plan and run side lanes concurrently (else lanes are ignored).</summary>
    bool ConcurrentLanes { get; }

    /// <summary>The lane that later <see cref="IBackend.Execute"/> calls queue on (0 or 1).</summary>
    void UseLane(int lane);

    /// <summary>The side lane's later work waits for everything queued on lane 0 so far.</summary>
    void ForkSideLane();

    /// <summary>Lane 0's later work waits for everything queued on the side lane so far.</summary>
    void JoinSideLane();
}
