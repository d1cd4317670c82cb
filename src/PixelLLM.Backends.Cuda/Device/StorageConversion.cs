using System.Runtime.InteropServices;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Device;

/// <summary>f32 ↔ bf16/f16 at the host boundary of 16-bit float storage (round to nearest even, like the kernels).</summary>
internal static class StorageConversion
{
    public static void Narrow(ReadOnlySpan<float> source, DType storage, Span<byte> destination)
    {
        var bits = MemoryMarshal.Cast<byte, ushort>(destination);
        if (storage == DType.BF16)
            BFloat16.FromSingles(source, bits);
        else
            for (int i = 0; i < source.Length; i++) bits[i] = BitConverter.HalfToUInt16Bits((Half)source[i]);
    }

    public static void Widen(DType storage, ReadOnlySpan<byte> source, Span<float> destination)
    {
        var bits = MemoryMarshal.Cast<byte, ushort>(source);
        if (storage == DType.BF16)
            BFloat16.ToSingles(bits[..destination.Length], destination);
        else
            for (int i = 0; i < destination.Length; i++) destination[i] = (float)BitConverter.UInt16BitsToHalf(bits[i]);
    }
}
