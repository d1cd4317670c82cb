using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static class Elementwise
{
    public static void Unary(UnaryOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Elementwise.Unary");

    public static void Binary(BinaryOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Elementwise.Binary");

    public static void Scale(ScaleOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Elementwise.Scale");

    public static void SwiGlu(SwiGluOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Elementwise.SwiGlu");

    public static void Cast(CastOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Elementwise.Cast");
}
