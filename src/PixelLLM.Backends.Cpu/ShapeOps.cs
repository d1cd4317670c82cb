using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static class ShapeOps
{
    public static void Permute(PermuteOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("ShapeOps.Permute");

    public static void Slice(SliceOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("ShapeOps.Slice");

    public static void Concat(ConcatOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("ShapeOps.Concat");
}
