using System.Numerics.Tensors;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// ConvTranspose2d as a GEMM + scatter: every input pixel times the weight (Cin, kh·kw·Cout) gives the contributions
/// of all its taps at once; tap (dy, dx) of input (iy, ix) lands on output (iy·s + dy, ix·s + dx).
/// </summary>
internal static unsafe partial class Conv
{
    public static void ConvTranspose2d(ConvTranspose2dOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64 = false)
    {
        CpuTensor input = x[0], weight = x[1];
        var g = new TransposeGeometry(input.Shape[1], input.Shape[2], weight.Shape[1], weight.Shape[2], weight.Shape[3],
            op.Stride, y.Shape[1], y.Shape[2]);
        int cin = input.Shape[3], n = g.KernelH * g.KernelW * g.OutChannels;
        long rows = (long)input.Shape[0] * g.Height * g.Width;
        float* bias = op.HasBias ? x[2].F32Ptr : null;
        float* src = input.F32Ptr, dst = y.F32Ptr;
        if (y.Length == 0) return;

        // Kernel == stride: the taps tile the output exactly, so each output value is written once, bias included.
        bool tiles = g.KernelH == g.Stride && g.KernelW == g.Stride;
        float* tapBias = null;
        if (tiles && bias != null)
        {
            tapBias = GemmScratch.Get(ScratchSlot.ConvBias, n);
            for (int t = 0; t < n; t += g.OutChannels) new ReadOnlySpan<float>(bias, g.OutChannels).CopyTo(new Span<float>(tapBias + t, g.OutChannels));
        }
        else if (!tiles)
        {
            for (long p = 0, pixels = (long)y.Length / g.OutChannels; p < pixels; p++)
            {
                var pixel = new Span<float>(dst + p * g.OutChannels, g.OutChannels);
                if (bias == null) pixel.Clear(); else new ReadOnlySpan<float>(bias, g.OutChannels).CopyTo(pixel);
            }
        }
        if (rows == 0) return;

        float* w = PermuteTransposedWeight(weight.F32Ptr, cin, g.OutChannels, g.KernelH * g.KernelW);
        int chunk = ChunkRows(rows, n);
        float* taps = GemmScratch.Get(ScratchSlot.ConvTaps, (long)chunk * n);
        // Taps of different input pixels only collide when the kernel is larger than the stride.
        bool disjoint = g.KernelH <= g.Stride && g.KernelW <= g.Stride;
        for (long start = 0; start < rows; start += chunk)
        {
            int count = (int)Math.Min(chunk, rows - start);
            GemmDriver.Run(new GemmProblem(count, n, cin, MatrixView.RowMajor(src + start * cin, cin),
                MatrixView.RowMajor(w, n), taps, n, 1f, tapBias) { Float64 = float64 });
            var scatter = new TapScatter(g, taps, dst, start, assign: tiles);
            if (disjoint && (long)count * n >= ScatterParallelFloats)
                Parallel.For(0, (count + ScatterBlock - 1) / ScatterBlock,
                    blk => scatter.Rows(blk * ScatterBlock, Math.Min(ScatterBlock, count - blk * ScatterBlock)));
            else
                scatter.Rows(0, count);
        }
    }

    private const int ScatterBlock = 256;
    private const long ScatterParallelFloats = 1 << 16;

    /// <summary>Weight (Cin, Cout, kh, kw) → (Cin, kh·kw·Cout) with columns (dy, dx, co), so each tap's outputs are contiguous.</summary>
    private static float* PermuteTransposedWeight(float* w, int cin, int cout, int taps)
    {
        if (taps == 1) return w;
        long n = (long)taps * cout;
        float* permuted = GemmScratch.Get(ScratchSlot.ConvWeight, cin * n);
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++)
            {
                float* from = w + (ci * (long)cout + co) * taps;
                float* to = permuted + ci * n + co;
                for (int t = 0; t < taps; t++) to[t * cout] = from[t];
            }
        return permuted;
    }
}

/// <summary>Sizes of one transposed convolution: input H×W, output channels, kernel, stride, output size.</summary>
internal readonly record struct TransposeGeometry(int Height, int Width, int OutChannels, int KernelH, int KernelW, int Stride, int OutH, int OutW);

/// <summary>Moves a block of per-input-pixel tap outputs (row r: kh·kw runs of Cout) to their output pixels.</summary>
internal readonly unsafe struct TapScatter(TransposeGeometry g, float* taps, float* output, long firstPixel, bool assign)
{
    public void Rows(int from, int count)
    {
        int cout = g.OutChannels, n = g.KernelH * g.KernelW * cout;
        for (int r = from; r < from + count; r++)
        {
            long pixel = firstPixel + r;
            int ix = (int)(pixel % g.Width), iy = (int)(pixel / g.Width % g.Height);
            long b = pixel / ((long)g.Width * g.Height);
            float* row = taps + (long)r * n;
            for (int dy = 0; dy < g.KernelH; dy++)
            {
                float* line = output + ((b * g.OutH + iy * g.Stride + dy) * g.OutW + (long)ix * g.Stride) * cout;
                for (int dx = 0; dx < g.KernelW; dx++, row += cout)
                {
                    var source = new ReadOnlySpan<float>(row, cout);
                    var target = new Span<float>(line + dx * cout, cout);
                    if (assign) source.CopyTo(target); else TensorPrimitives.Add(target, source, target);
                }
            }
        }
    }
}
