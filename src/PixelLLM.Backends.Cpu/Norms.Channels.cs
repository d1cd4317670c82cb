using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Norms
{
    /// <summary>Spatial positions LayerNorm2d normalises together: C × this many floats stay cache-resident across its three passes.</summary>
    private const int PositionBlock = 128;

    /// <summary>SAM's LayerNorm2d: per (n, h, w), normalise the C values x[n, :, h, w]; then per-channel weight and bias.</summary>
    public static void LayerNorm2d(LayerNorm2dOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var input = x[0];
        int channels = input.Shape[1], plane = input.Shape[2] * input.Shape[3];
        if (input.Length == 0) return;
        long blocksPerImage = (plane + PositionBlock - 1) / PositionBlock;
        KernelParallel.For(input.Shape[0] * blocksPerImage, Math.Max(1, ParallelGrain / ((long)channels * PositionBlock)),
            new LayerNorm2dBlocks(input.F32Ptr, x[1].F32Ptr, x[2].F32Ptr, y.F32Ptr, channels, plane, blocksPerImage, op.Eps));
    }

    private readonly struct LayerNorm2dBlocks(float* x, float* w, float* b, float* y, int channels, int plane, long blocksPerImage, float eps)
        : IRangeBody
    {
        public void Run(long start, long end)
        {
            Span<float> shift = stackalloc float[PositionBlock], delta = stackalloc float[PositionBlock], invStd = stackalloc float[PositionBlock];
            for (long item = start; item < end; item++)
            {
                long image = item / blocksPerImage;
                int from = (int)(item % blocksPerImage) * PositionBlock, n = Math.Min(PositionBlock, plane - from);
                float* origin = x + image * channels * plane + from;
                Span<float> sh = shift[..n], de = delta[..n], rs = invStd[..n];

                sh.Clear();
                for (int c = 0; c < channels; c++) TensorPrimitives.Add(sh, new ReadOnlySpan<float>(origin + (long)c * plane, n), sh);
                TensorPrimitives.Multiply(sh, 1f / channels, sh);

                de.Clear();
                rs.Clear();
                for (int c = 0; c < channels; c++) NormMath.AccumulateShifted(new ReadOnlySpan<float>(origin + (long)c * plane, n), sh, de, rs);
                for (int p = 0; p < n; p++)
                {
                    float d = de[p] / channels;
                    de[p] = d;
                    rs[p] = 1f / MathF.Sqrt(Math.Max(rs[p] / channels - d * d, 0f) + eps);
                }

                for (int c = 0; c < channels; c++)
                {
                    long offset = image * channels * plane + (long)c * plane + from;
                    NormalizeScaled(new ReadOnlySpan<float>(x + offset, n), sh, de, rs, w[c], b[c], new Span<float>(y + offset, n));
                }
            }
        }
    }

    /// <summary>y = ((x − shift) − delta)·invStd·w + b with per-element shift/delta/invStd and scalar w, b.</summary>
    private static void NormalizeScaled(ReadOnlySpan<float> x, ReadOnlySpan<float> shift, ReadOnlySpan<float> delta, ReadOnlySpan<float> invStd,
        float w, float b, Span<float> y)
    {
        const int Lanes = 8;
        int n = x.Length, i = 0;
        var vw = Vector256.Create(w);
        var vb = Vector256.Create(b);
        for (; i <= n - Lanes; i += Lanes)
        {
            var t = (Vector256.Create(x.Slice(i, Lanes)) - Vector256.Create(shift.Slice(i, Lanes)) - Vector256.Create(delta.Slice(i, Lanes)))
                * Vector256.Create(invStd.Slice(i, Lanes));
            Vector256.FusedMultiplyAdd(t, vw, vb).CopyTo(y.Slice(i));
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd((x[i] - shift[i] - delta[i]) * invStd[i], w, b);
    }
}
