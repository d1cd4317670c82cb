using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static class Vision
{
    public static void Rope(RopeOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Vision.Rope");

    public static void WindowPartition(WindowPartitionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Vision.WindowPartition");

    public static void WindowUnpartition(WindowUnpartitionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Vision.WindowUnpartition");

    public static void RelPosBias(RelPosBiasOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Vision.RelPosBias");
}
