using System.Numerics.Tensors;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>Normalisation kernels (f32). Statistics are per row in float, see <see cref="NormMath"/> for the scheme.</summary>
internal static unsafe partial class Norms
{
    /// <summary>Rows per parallel chunk are chosen so a chunk holds at least this many elements.</summary>
    private const long ParallelGrain = 1 << 14;

    public static void LayerNorm(LayerNormOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var input = x[0];
        int stride = input.Shape[-1];
        if (input.Length == 0 || stride == 0) return;
        int next = 1;
        float* w = op.HasWeight ? x[next++].F32Ptr : null;
        float* b = op.HasBias ? x[next].F32Ptr : null;
        long rows = input.Length / stride;
        KernelParallel.For(rows, RowGrain(stride), new LayerNormRows(input.F32Ptr, w, b, y.F32Ptr, op.NormalizedWidth(stride), stride, op.Eps));
    }

    public static void RmsNorm(RmsNormOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var input = x[0];
        int width = input.Shape[-1];
        if (input.Length == 0 || width == 0) return;
        RmsNormRowsInto(input.F32Ptr, x[1].F32Ptr, y.F32Ptr, input.Length / width, width, op.Eps);
    }

    /// <summary>RmsNorm of <paramref name="rows"/> rows of <paramref name="width"/> floats (RmsNormOp and RmsNormLinearOp share it).</summary>
    public static void RmsNormRowsInto(float* x, float* weight, float* y, long rows, int width, float eps) =>
        KernelParallel.For(rows, RowGrain(width), new RmsNormRows(x, weight, y, width, eps));

    private static long RowGrain(int width) => Math.Max(1, ParallelGrain / width);

    /// <summary>Rows <paramref name="stride"/> apart whose first <paramref name="width"/> elements are normalised; the rest become 0.</summary>
    private readonly struct LayerNormRows(float* x, float* w, float* b, float* y, int width, int stride, float eps) : IRangeBody
    {
        public void Run(long start, long end)
        {
            ReadOnlySpan<float> weight = w == null ? default : new(w, width), bias = b == null ? default : new(b, width);
            for (long r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(x + r * stride, width);
                var (shift, delta, invStd) = NormMath.RowMoments(row, eps);
                NormMath.NormalizeRow(row, shift, delta, invStd, weight, bias, new Span<float>(y + r * stride, width));
                if (stride > width) new Span<float>(y + r * stride + width, stride - width).Clear();
            }
        }
    }

    /// <summary>T5 RMS norm: x / √(mean(x²) + eps) · w (no mean subtraction, no bias).</summary>
    private readonly struct RmsNormRows(float* x, float* w, float* y, int width, float eps) : IRangeBody
    {
        public void Run(long start, long end)
        {
            var weight = new ReadOnlySpan<float>(w, width);
            for (long r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(x + r * width, width);
                var output = new Span<float>(y + r * width, width);
                float invRms = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(row) / width + eps);
                TensorPrimitives.Multiply(row, invRms, output);
                TensorPrimitives.Multiply(output, weight, output);
            }
        }
    }
}
