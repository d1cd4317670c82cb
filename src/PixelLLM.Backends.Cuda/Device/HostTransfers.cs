using System.Runtime.InteropServices;
using PixelLLM.Backends.Cuda.Interop;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Device;

/// <summary>
/// Synchronous host ↔ device copies of weights, graph inputs and outputs through one page-locked staging buffer, converting to and
/// from 16-bit float storage on the way. A copy from pageable memory is staged by the driver anyway, slowly (run 4 on an
/// H200: 2.2 MB of feature maps took 3.5 ms down); here the conversion writes straight into pinned memory and the DMA
/// runs at full speed. Large copies go through in chunks of at most <see cref="ChunkBytes"/>.
/// </summary>
internal sealed unsafe class HostTransfers(CudaDriver driver) : IDisposable
{
    public const long ChunkBytes = 16 << 20;
    private nint staging;
    private long capacity;

    /// <summary>Writes <paramref name="source"/> (elements of <paramref name="declared"/>) to <paramref name="destination"/> stored as <paramref name="storage"/>.</summary>
    public void Upload(ulong destination, ReadOnlySpan<byte> source, DType declared, DType storage)
    {
        int inSize = declared.SizeOf(), outSize = storage.SizeOf();
        long elements = source.Length / inSize;
        int chunk = (int)(ChunkBytes / Math.Max(inSize, outSize));
        for (long first = 0; first < elements; first += chunk)
        {
            int n = (int)Math.Min(chunk, elements - first);
            var part = source.Slice(checked((int)(first * inSize)), n * inSize);
            var pinned = Staging((long)n * outSize);
            if (declared == storage) part.CopyTo(pinned);
            else StorageConversion.Narrow(MemoryMarshal.Cast<byte, float>(part), storage, pinned);
            driver.CopyToDevice(destination + (ulong)(first * outSize), pinned);
        }
    }

    /// <summary>Reads elements stored as <paramref name="storage"/> at <paramref name="source"/> into <paramref name="destination"/> as <paramref name="declared"/>.</summary>
    public void Download(Span<byte> destination, ulong source, DType declared, DType storage)
    {
        int outSize = declared.SizeOf(), inSize = storage.SizeOf();
        long elements = destination.Length / outSize;
        int chunk = (int)(ChunkBytes / Math.Max(inSize, outSize));
        for (long first = 0; first < elements; first += chunk)
        {
            int n = (int)Math.Min(chunk, elements - first);
            var pinned = Staging((long)n * inSize);
            driver.CopyToHost(pinned, source + (ulong)(first * inSize));
            var part = destination.Slice(checked((int)(first * outSize)), n * outSize);
            if (declared == storage) pinned.CopyTo(part);
            else StorageConversion.Widen(storage, pinned, MemoryMarshal.Cast<byte, float>(part));
        }
    }

    private Span<byte> Staging(long bytes)
    {
        if (bytes > capacity)
        {
            if (staging != 0) driver.FreeHost(staging);
            staging = 0;
            capacity = Math.Min(ChunkBytes, Math.Max(bytes, 2 * capacity));
            staging = driver.AllocHost(capacity);
        }
        return new Span<byte>((void*)staging, checked((int)bytes));
    }

    public void Dispose()
    {
        if (staging != 0) driver.FreeHost(staging);
        staging = 0;
        capacity = 0;
    }
}
