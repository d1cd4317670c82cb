using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static class Norms
{
    public static void LayerNorm(LayerNormOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Norms.LayerNorm");

    public static void LayerNorm2d(LayerNorm2dOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Norms.LayerNorm2d");

    public static void RmsNorm(RmsNormOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Norms.RmsNorm");

    public static void GroupNorm(GroupNormOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Norms.GroupNorm");
}
