using System.Numerics.Tensors;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>Reductions over the last dim (softmax family, arg-selection), mean over any axis, and gathers (f32 math).</summary>
internal static unsafe partial class Reduce
{
    private const long ParallelGrain = 1 << 14;

    /// <summary>exp(x − max) / Σ. A row that is all −∞ (or holds NaN or +∞) becomes NaN, as in PyTorch.</summary>
    public static void Softmax(SoftmaxOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        int width = x[0].Shape[-1];
        if (x[0].Length == 0 || width == 0) return;
        KernelParallel.For(x[0].Length / width, Math.Max(1, ParallelGrain / width), new SoftmaxRows(x[0].F32Ptr, y.F32Ptr, width, log: false));
    }

    /// <summary>x − max − log Σ exp(x − max); same NaN rules as <see cref="Softmax"/>.</summary>
    public static void LogSoftmax(LogSoftmaxOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        int width = x[0].Shape[-1];
        if (x[0].Length == 0 || width == 0) return;
        KernelParallel.For(x[0].Length / width, Math.Max(1, ParallelGrain / width), new SoftmaxRows(x[0].F32Ptr, y.F32Ptr, width, log: true));
    }

    private readonly struct SoftmaxRows(float* x, float* y, int width, bool log) : IRangeBody
    {
        public void Run(long start, long end)
        {
            for (long r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(x + r * width, width);
                var output = new Span<float>(y + r * width, width);
                TensorPrimitives.Subtract(row, TensorPrimitives.Max(row), output);
                if (log)
                {
                    TensorPrimitives.Subtract(output, MathF.Log(RowReductions.SumOfExp(output, 0f)), output);
                }
                else
                {
                    TensorPrimitives.Exp(output, output);
                    TensorPrimitives.Multiply(output, 1f / TensorPrimitives.Sum(output), output);
                }
            }
        }
    }

    /// <summary>Maximum over one axis: x viewed as (outer, n, inner) → (outer, inner); a NaN wins, as in torch.amax.</summary>
    public static void ReduceMax(ReduceMaxOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var shape = x[0].Shape;
        int axis = shape.NormalizeAxis(op.Axis), n = shape[axis];
        long outer = shape.Product(0, axis), inner = shape.Product(axis + 1, shape.Rank);
        float* src = x[0].F32Ptr, dst = y.F32Ptr;
        for (long o = 0; o < outer; o++)
            for (long i = 0; i < inner; i++)
            {
                float* from = src + o * n * inner + i;
                float best = from[0];
                for (int k = 1; k < n && !float.IsNaN(best); k++)
                {
                    float v = from[k * inner];
                    if (v > best || float.IsNaN(v)) best = v;
                }
                dst[o * inner + i] = best;
            }
    }

    /// <summary>Mean over one axis: x viewed as (outer, n, inner) → (outer, inner).</summary>
    public static void ReduceMean(ReduceMeanOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var shape = x[0].Shape;
        int axis = shape.NormalizeAxis(op.Axis), n = shape[axis];
        long outer = shape.Product(0, axis), inner = shape.Product(axis + 1, shape.Rank);
        if (y.Length == 0) return;
        if (n == 0)
        {
            y.F32.Fill(float.NaN); // mean of nothing, like torch.mean
            return;
        }
        long chunk = Math.Min(inner, 4096), chunksPerRow = (inner + chunk - 1) / chunk;
        KernelParallel.For(outer * chunksPerRow, Math.Max(1, ParallelGrain / ((long)n * chunk)),
            new MeanChunks(x[0].F32Ptr, y.F32Ptr, n, inner, chunk, chunksPerRow));
    }

    private readonly struct MeanChunks(float* x, float* y, int n, long inner, long chunk, long chunksPerRow) : IRangeBody
    {
        public void Run(long start, long end)
        {
            for (long item = start; item < end; item++)
            {
                long o = item / chunksPerRow, from = item % chunksPerRow * chunk;
                int len = (int)Math.Min(chunk, inner - from);
                float* src = x + o * n * inner + from;
                if (inner == 1)
                {
                    y[o] = TensorPrimitives.Sum(new ReadOnlySpan<float>(src, n)) / n;
                    continue;
                }
                var acc = new Span<float>(y + o * inner + from, len);
                acc.Clear();
                for (int k = 0; k < n; k++) TensorPrimitives.Add(acc, new ReadOnlySpan<float>(src + k * inner, len), acc);
                TensorPrimitives.Multiply(acc, 1f / n, acc);
            }
        }
    }
}
