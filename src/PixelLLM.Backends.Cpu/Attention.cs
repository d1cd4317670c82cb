using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static class Attention
{
    public static void Run(AttentionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Attention.Run");
}
