using System.Runtime.InteropServices;
using PixelLLM.Runtime.Execution;

namespace PixelLLM.Backends.Cpu;

/// <summary>Host memory for the CPU backend: an aligned native block, or pinned memory it does not own (weights).</summary>
internal sealed unsafe class CpuBuffer : IBackendBuffer
{
    private readonly bool owned;
    private System.Buffers.MemoryHandle pin;

    public CpuBuffer(long bytes)
    {
        Pointer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        if (Pointer == null) throw new OutOfMemoryException($"CPU backend: cannot allocate {bytes} bytes");
        Length = bytes;
        owned = true;
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
        if (owned) NativeMemory.AlignedFree(Pointer); else pin.Dispose();
        Pointer = null;
    }
}
