using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static class Reduce
{
    public static void Softmax(SoftmaxOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Reduce.Softmax");

    public static void LogSoftmax(LogSoftmaxOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Reduce.LogSoftmax");

    public static void ArgMax(ArgMaxOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Reduce.ArgMax");

    public static void TopK(TopKOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Reduce.TopK");

    public static void TakeAlongLast(TakeAlongLastOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Reduce.TakeAlongLast");

    public static void ReduceMean(ReduceMeanOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Reduce.ReduceMean");

    public static void Embedding(EmbeddingOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y) => throw new NotImplementedException("Reduce.Embedding");
}
