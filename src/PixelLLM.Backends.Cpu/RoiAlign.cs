using System.Numerics.Tensors;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// <see cref="RoiAlignOp"/>: per box, the separable 1-D tap lists (index, weight) of both sides, then each output bin is a
/// weighted sum of whole channel rows of the map (contiguous in channels-last layout).
/// </summary>
internal static unsafe class RoiAlign
{
    public static void Run(RoiAlignOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        int boxes = x[0].Shape[0], size = op.OutputSize, channels = y.Shape[3];
        float* box = x[0].F32Ptr, dst = y.F32Ptr;
        var ids = x[1].I32.ToArray();
        var maps = new (nint Data, int Height, int Width)[x.Length - 2];
        for (int m = 0; m < maps.Length; m++) maps[m] = ((nint)x[m + 2].F32Ptr, x[m + 2].Shape[1], x[m + 2].Shape[2]);
        long perBox = (long)size * size * channels;
        void One(int n)
        {
            var output = new Span<float>(dst + n * perBox, (int)perBox);
            output.Clear();
            if ((uint)ids[n] >= (uint)maps.Length) return;
            var (data, height, width) = maps[ids[n]];
            float* b = box + 4 * n;
            var rows = Taps(b[1], b[3], height, size, op.SamplingRatio);
            var cols = Taps(b[0], b[2], width, size, op.SamplingRatio);
            float* map = (float*)data;
            for (int oy = 0; oy < size; oy++)
                foreach (var (iy, wy) in rows[oy])
                    for (int ox = 0; ox < size; ox++)
                    {
                        var bin = output.Slice((oy * size + ox) * channels, channels);
                        foreach (var (ix, wx) in cols[ox])
                            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(map + ((long)iy * width + ix) * channels, channels), wy * wx, bin, bin);
                    }
        }
        if (boxes > 1 && (long)y.Length >= 1 << 16) Parallel.For(0, boxes, One);
        else for (int n = 0; n < boxes; n++) One(n);
    }

    /// <summary>
    /// Per output cell along one side [lo, hi] of a map of <paramref name="extent"/> cells: the in-range taps of its
    /// samples, each weighted by its linear weight / samples (scenic's float32 arithmetic, out-of-range taps dropped).
    /// </summary>
    private static List<(int Index, float Weight)>[] Taps(float lo, float hi, int extent, int size, int samples)
    {
        float scale = size * samples / (hi - lo);
        var taps = new List<(int, float)>[size];
        for (int o = 0; o < size; o++)
        {
            taps[o] = new List<(int, float)>(2 * samples);
            for (int s = 0; s < samples; s++)
            {
                float at = ((o * samples + s) + 0.5f) / scale + lo - 0.5f;
                float first = MathF.Floor(at), upper = at - first;
                int index = (int)first;
                if (index >= 0 && index < extent) taps[o].Add((index, (1f - upper) / samples));
                if (index + 1 >= 0 && index + 1 < extent) taps[o].Add((index + 1, upper / samples));
            }
        }
        return taps;
    }
}
