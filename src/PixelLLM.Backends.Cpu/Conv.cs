using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static class Conv
{
    public static void Conv2d(Conv2dOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Conv.Conv2d");

    public static void ConvTranspose2d(ConvTranspose2dOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Conv.ConvTranspose2d");
}
