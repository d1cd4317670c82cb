using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Convolutions as GEMMs on channels-last data. Conv2d: im2col rows (one per output pixel, taps ordered
/// (dy, dx, ci) so each tap is a contiguous run of input channels) times the weight permuted to match.
/// </summary>
internal static unsafe partial class Conv
{
    public static void Conv2d(Conv2dOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y, bool float64 = false)
    {
        CpuTensor input = x[0], weight = x[1];
        var g = new ConvGeometry(input.Shape[0], input.Shape[1], input.Shape[2], input.Shape[3], weight.Shape[2], weight.Shape[3],
            op.StrideH, op.StrideW, op.PadH, op.PadW, y.Shape[1], y.Shape[2]);
        int cout = weight.Shape[0], depth = g.Depth;
        long rows = (long)g.Batch * g.OutH * g.OutW;
        float* bias = op.HasBias ? x[2].F32Ptr : null;
        float* src = input.F32Ptr, dst = y.F32Ptr;
        if (rows == 0 || cout == 0) return;

        // 1×1, stride 1, no padding: the input already is the im2col matrix.
        if (g.KernelH == 1 && g.KernelW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0)
        {
            GemmDriver.Run(new GemmProblem(checked((int)rows), cout, depth,
                MatrixView.RowMajor(src, depth), MatrixView.Transposed(weight.F32Ptr, depth), dst, cout, 1f, bias) { Float64 = float64 });
            return;
        }

        float* w = PermuteConvWeight(weight.F32Ptr, cout, g.InChannels, g.KernelH, g.KernelW);
        // im2col a bounded block of rows at a time; each block is one GEMM that spreads over the cores itself.
        int chunk = ChunkRows(rows, depth);
        float* columns = GemmScratch.Get(ScratchSlot.ConvColumns, (long)chunk * depth);
        for (long start = 0; start < rows; start += chunk)
        {
            int count = (int)Math.Min(chunk, rows - start);
            Im2Col(src, g, start, count, columns);
            GemmDriver.Run(new GemmProblem(count, cout, depth, MatrixView.RowMajor(columns, depth),
                MatrixView.Transposed(w, depth), dst + start * cout, cout, 1f, bias) { Float64 = float64 });
        }
    }

    /// <summary>
    /// Rows per block so a block's scratch holds about 2M floats (8 MiB): enough rows that re-packing the weight per
    /// block costs a few percent, and every block is large enough to run on all cores.
    /// </summary>
    private static int ChunkRows(long rows, int floatsPerRow) =>
        (int)Math.Min(rows, Math.Max(64, (1L << 21) / Math.Max(floatsPerRow, 1)));

    /// <summary>
    /// Weight (Cout, Cin, kh, kw) → (Cout, kh·kw·Cin) with taps (dy, dx, ci), matching <see cref="Im2Col"/>'s order.
    /// Returns the weight itself when the two orders coincide (a 1×1 kernel or one input channel).
    /// </summary>
    private static float* PermuteConvWeight(float* w, int cout, int cin, int kh, int kw)
    {
        if (kh * kw == 1 || cin == 1) return w;
        int taps = kh * kw, depth = taps * cin;
        float* permuted = GemmScratch.Get(ScratchSlot.ConvWeight, (long)cout * depth);
        for (int co = 0; co < cout; co++)
            for (int ci = 0; ci < cin; ci++)
            {
                float* from = w + ((long)co * cin + ci) * taps;
                float* to = permuted + (long)co * depth + ci;
                for (int t = 0; t < taps; t++) to[t * cin] = from[t];
            }
        return permuted;
    }

    /// <summary>
    /// Writes im2col rows [start, start + count) (output pixels in (b, oy, ox) order) of length kh·kw·Cin.
    /// Each kernel row whose taps all fall inside the input is one contiguous copy of kw·Cin floats, which makes
    /// a stride = kernel patch embedding (no padding) a plain gather of memcpy runs; padded taps are zeros.
    /// </summary>
    private static void Im2Col(float* x, in ConvGeometry g, long start, int count, float* columns)
    {
        int cin = g.InChannels, run = g.KernelW * cin, depth = g.Depth;
        for (int r = 0; r < count; r++)
        {
            long pixel = start + r;
            int ox = (int)(pixel % g.OutW), oy = (int)(pixel / g.OutW % g.OutH), b = (int)(pixel / ((long)g.OutW * g.OutH));
            float* row = columns + (long)r * depth;
            int ix0 = ox * g.StrideW - g.PadW;
            bool columnsInside = ix0 >= 0 && ix0 + g.KernelW <= g.Width;
            for (int dy = 0; dy < g.KernelH; dy++, row += run)
            {
                int iy = oy * g.StrideH - g.PadH + dy;
                if (iy < 0 || iy >= g.Height)
                {
                    new Span<float>(row, run).Clear();
                    continue;
                }
                float* line = x + (((long)b * g.Height + iy) * g.Width) * cin;
                if (columnsInside)
                {
                    new ReadOnlySpan<float>(line + (long)ix0 * cin, run).CopyTo(new Span<float>(row, run));
                    continue;
                }
                for (int dx = 0; dx < g.KernelW; dx++)
                {
                    int ix = ix0 + dx;
                    var tap = new Span<float>(row + dx * cin, cin);
                    if (ix < 0 || ix >= g.Width) tap.Clear();
                    else new ReadOnlySpan<float>(line + (long)ix * cin, cin).CopyTo(tap);
                }
            }
        }
    }
}

/// <summary>Sizes of one convolution: input (Batch, Height, Width, InChannels), kernel, stride, padding, output size.</summary>
internal readonly record struct ConvGeometry(int Batch, int Height, int Width, int InChannels, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW, int OutH, int OutW)
{
    /// <summary>Length of one im2col row: every tap of every input channel.</summary>
    public int Depth => KernelH * KernelW * InChannels;
}
