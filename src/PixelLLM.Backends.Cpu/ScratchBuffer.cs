namespace PixelLLM.Backends.Cpu;

/// <summary>
/// A per-thread float buffer that only grows, for kernel scratch too large for the stack. Rent it on the thread that
/// entered the kernel, before going parallel: parallel bodies may run on that same thread and must not rent again.
/// </summary>
internal static class ScratchBuffer
{
    [ThreadStatic] private static float[]? buffer;

    public static float[] Rent(int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new float[Math.Max(length, 1024)];
        return buffer;
    }
}
