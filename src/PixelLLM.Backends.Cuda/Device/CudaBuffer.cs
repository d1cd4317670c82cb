using PixelLLM.Runtime.Execution;

namespace PixelLLM.Backends.Cuda.Device;

/// <summary>A device allocation (cuMemAlloc), freed on dispose.</summary>
internal sealed class CudaBuffer : IBackendBuffer
{
    private readonly CudaQueue queue;

    public CudaBuffer(CudaQueue queue, long bytes)
    {
        this.queue = queue;
        Length = bytes;
        Pointer = queue.Driver.Alloc(bytes);
    }

    public long Length { get; }

    /// <summary>The device address.</summary>
    public ulong Pointer { get; private set; }

    public void Dispose()
    {
        if (Pointer == 0) return;
        queue.MakeCurrent();
        queue.Driver.Free(Pointer);
        Pointer = 0;
    }
}
