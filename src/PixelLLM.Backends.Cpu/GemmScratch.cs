using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PixelLLM.Backends.Cpu;

/// <summary>What a per-thread scratch buffer is used for; nested users on one thread need distinct slots.</summary>
internal enum ScratchSlot
{
    PackA,
    PackB,
    GemvRows,
    GemvColumns,
    ConvColumns,
    ConvWeight,
    ConvTaps,
    ConvBias,
    Bf16Weights,
    NormedRows,
    ProjectedRows,
    DecoderLayer,
    OpSteps,
    Count,
}

/// <summary>
/// Per-thread float scratch for the GEMM family: grown on demand, kept for the thread's lifetime, so steady-state
/// kernels do not allocate. Arrays live on the pinned heap, which lets kernels hold raw pointers into them.
/// </summary>
internal static unsafe class GemmScratch
{
    private const int AlignFloats = 16; // 64 bytes: one cache line, one Vector512

    [ThreadStatic] private static float[]?[]? buffers;

    /// <summary>A 64-byte aligned buffer of at least <paramref name="floats"/> elements; contents are undefined.</summary>
    public static float* Get(ScratchSlot slot, long floats)
    {
        buffers ??= new float[]?[(int)ScratchSlot.Count];
        ref var buffer = ref buffers[(int)slot];
        if (buffer is null || buffer.LongLength < floats + AlignFloats)
        {
            long grown = Math.Max(floats + AlignFloats, (buffer?.LongLength ?? 0) * 3 / 2);
            buffer = GC.AllocateUninitializedArray<float>(checked((int)grown), pinned: true);
        }
        var start = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((start + AlignFloats * sizeof(float) - 1) & ~(nuint)(AlignFloats * sizeof(float) - 1));
    }
}
