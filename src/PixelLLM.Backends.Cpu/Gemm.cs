using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static class Gemm
{
    public static void MatMul(MatMulOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Gemm.MatMul");

    public static void Linear(LinearOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Gemm.Linear");
}
