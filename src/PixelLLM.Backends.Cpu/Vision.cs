using System.Runtime.Intrinsics;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>Vision-encoder layout ops: EVA02 rotary embedding and SAM window partitioning.</summary>
internal static unsafe partial class Vision
{
    /// <summary>Below this many output elements a kernel stays on the calling thread.</summary>
    private const long MinParallelElements = 1 << 18;

    public static void Rope(RopeOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var s = x[0].Shape;
        int tokens = s[1], width = s[2], rotated = op.Rotated(width), headDim = rotated / op.NumHeads, heads = op.NumHeads, start = op.StartToken;
        float* src = x[0].F32Ptr, sin = x[1].F32Ptr, cos = x[2].F32Ptr, dst = y.F32Ptr;
        ForEach(s[0] * tokens, (long)y.Length, row =>
        {
            int token = row % tokens;
            float* from = src + (long)row * width, to = dst + (long)row * width;
            int copyFrom = token < start ? 0 : rotated;
            if (token >= start)
            {
                long table = (long)(token - start) * headDim;
                for (int h = 0; h < heads; h++)
                    RotatePairs(from + h * headDim, sin + table, cos + table, to + h * headDim, headDim);
            }
            if (from != to) new ReadOnlySpan<float>(from + copyFrom, width - copyFrom).CopyTo(new Span<float>(to + copyFrom, width - copyFrom));
        });
    }

    /// <summary>out = x·cos + rot(x)·sin with rot turning each pair (a, b) into (−b, a).</summary>
    private static void RotatePairs(float* x, float* sin, float* cos, float* y, int dim)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var swapPairs = Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6);
            var signs = Vector256.Create(-1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f);
            for (; c + Vector256<float>.Count <= dim; c += Vector256<float>.Count)
            {
                var v = Vector256.Load(x + c);
                var rotated = Vector256.Shuffle(v, swapPairs) * signs;
                (v * Vector256.Load(cos + c) + rotated * Vector256.Load(sin + c)).Store(y + c);
            }
        }
        for (; c < dim; c += 2)
        {
            float a = x[c], b = x[c + 1];
            y[c] = a * cos[c] - b * sin[c];
            y[c + 1] = b * cos[c + 1] + a * sin[c + 1];
        }
    }

    /// <summary>
    /// SAM window_partition: padding at bottom/right (zeros, or the pad row in every padded pixel), windows in row-major
    /// order of the padded grid.
    /// </summary>
    public static void WindowPartition(WindowPartitionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var s = x[0].Shape;
        int height = s[1], width = s[2], channels = s[3], w = op.Window;
        int rowsOfWindows = (height + w - 1) / w, colsOfWindows = (width + w - 1) / w;
        float* src = x[0].F32Ptr, dst = y.F32Ptr, pad = op.HasPadRow ? x[1].F32Ptr : null;
        // One item per window row: copy the part inside the image, then pad the rest.
        ForEach(y.Shape[0] * w, y.Length, item =>
        {
            int window = item / w, r = item % w;
            int col = window % colsOfWindows, rowOfWindow = window / colsOfWindows % rowsOfWindows, b = window / colsOfWindows / rowsOfWindows;
            int py = rowOfWindow * w + r, px = col * w;
            var to = new Span<float>(dst + (long)item * w * channels, w * channels);
            int inside = py < height ? Math.Min(w, width - px) * channels : 0;
            if (inside > 0) new ReadOnlySpan<float>(src + (((long)b * height + py) * width + px) * channels, inside).CopyTo(to);
            if (pad is null)
            {
                to[inside..].Clear();
                return;
            }
            var padRow = new ReadOnlySpan<float>(pad, channels);
            for (int at = inside; at < to.Length; at += channels) padRow.CopyTo(to[at..]);
        });
    }

    /// <summary>SAM window_unpartition: reassembles the padded grid and crops it to Height × Width.</summary>
    public static void WindowUnpartition(WindowUnpartitionOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        int height = op.Height, width = op.Width, w = op.Window, channels = y.Shape[3];
        int rowsOfWindows = (height + w - 1) / w, colsOfWindows = (width + w - 1) / w;
        float* src = x[0].F32Ptr, dst = y.F32Ptr;
        // One item per output image row, gathered from the windows that cross it.
        ForEach(y.Shape[0] * height, y.Length, item =>
        {
            int b = item / height, py = item % height, r = py % w;
            float* to = dst + (long)item * width * channels;
            for (int col = 0; col < colsOfWindows; col++)
            {
                long window = ((long)b * rowsOfWindows + py / w) * colsOfWindows + col;
                int inside = Math.Min(w, width - col * w) * channels;
                new ReadOnlySpan<float>(src + (window * w + r) * w * channels, inside)
                    .CopyTo(new Span<float>(to + col * w * channels, inside));
            }
        });
    }

    /// <summary>Runs body(0..count) in parallel when the op touches enough elements to pay for it.</summary>
    private static void ForEach(int count, long elements, Action<int> body)
    {
        if (count > 1 && elements >= MinParallelElements) Parallel.For(0, count, body);
        else for (int i = 0; i < count; i++) body(i);
    }
}
