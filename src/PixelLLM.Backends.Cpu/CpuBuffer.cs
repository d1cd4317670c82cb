using System.Runtime.InteropServices;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Backends.Cpu;

/// <summary>Host memory for the CPU backend: an aligned native block, or pinned memory it does not own (weights).</summary>
internal sealed unsafe class CpuBuffer : IBackendBuffer
{
    private readonly bool owned;
    private readonly AllocationBudget? budget;
    private System.Buffers.MemoryHandle pin;

    /// <summary>Allocates <paramref name="bytes"/> drawn from <paramref name="budget"/>; failure of either is <see cref="OutOfBackendMemoryException"/>.</summary>
    public CpuBuffer(long bytes, AllocationBudget budget)
    {
        budget.Reserve(bytes);
        try
        {
            Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        }
        catch (OutOfMemoryException e)
        {
            budget.Release(bytes);
            throw new OutOfBackendMemoryException($"out of memory: the host refused {AllocationBudget.Bytes(bytes)} for the cpu backend", e);
        }
        Length = bytes;
        owned = true;
        this.budget = budget;
    }

    public CpuBuffer(Memory<byte> memory)
    {
        pin = memory.Pin();
        Pointer = (byte*)pin.Pointer;
        Length = memory.Length;
    }

    public byte* Pointer { get; private set; }
    public long Length { get; }

    public void Dispose()
    {
        if (Pointer == null) return;
        if (owned)
        {
            NativeMemory.AlignedFree(Pointer);
            budget!.Release(Length);
        }
        else pin.Dispose();
        Pointer = null;
    }
}
