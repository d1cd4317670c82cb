using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static class Resize
{
    public static void Run(ResizeOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Resize.Run");
}
