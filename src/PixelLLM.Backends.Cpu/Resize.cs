using System.Numerics;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Separable jax.image.resize: one pass per resized axis, each a sparse weighted sum of input slices along that axis.
/// Passes between the first and last write to per-thread scratch that is reused across calls.
/// </summary>
internal static unsafe class Resize
{
    /// <summary>Below this many multiply-adds a pass stays on the calling thread.</summary>
    private const long MinParallelWork = 1 << 17;

    [ThreadStatic] private static float[]? pingScratch, pongScratch;

    public static void Run(ResizeOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var dims = x[0].Shape.ToArray();
        // Equal sizes give an identity weight matrix (both kernels vanish at integer offsets), so such axes are skipped.
        var passes = new List<(int Axis, ResizeWeights Weights)>(op.Axes.Length);
        for (int i = 0; i < op.Axes.Length; i++)
        {
            int axis = x[0].Shape.NormalizeAxis(op.Axes[i]);
            if (dims[axis] != op.Sizes[i])
                passes.Add((axis, ResizeWeights.Build(dims[axis], op.Sizes[i], op.Kernel, op.Antialias)));
            dims[axis] = op.Sizes[i];
        }
        if (passes.Count == 0)
        {
            x[0].F32.CopyTo(y.F32);
            return;
        }

        dims = x[0].Shape.ToArray();
        long largest = 0;
        foreach (var (axis, w) in passes)
        {
            dims[axis] = w.First.Length;
            largest = Math.Max(largest, new Shape(dims).ElementCount);
        }
        var ping = Scratch(ref pingScratch, passes.Count > 1 ? largest : 0);
        var pong = Scratch(ref pongScratch, passes.Count > 2 ? largest : 0);
        fixed (float* a = ping, b = pong)
        {
            dims = x[0].Shape.ToArray();
            float* src = x[0].F32Ptr;
            for (int p = 0; p < passes.Count; p++)
            {
                var (axis, weights) = passes[p];
                float* dst = p == passes.Count - 1 ? y.F32Ptr : p % 2 == 0 ? a : b;
                int outer = checked((int)new Shape(dims).Product(0, axis)), inner = checked((int)new Shape(dims).Product(axis + 1, dims.Length));
                ResizeAxis(src, dst, outer, dims[axis], inner, weights);
                dims[axis] = weights.First.Length;
                src = dst;
            }
        }
    }

    /// <summary>src (outer, inSize, inner) → dst (outer, outSize, inner) along the middle axis.</summary>
    private static void ResizeAxis(float* src, float* dst, int outer, int inSize, int inner, ResizeWeights w)
    {
        int outSize = w.First.Length, taps = w.Taps;
        int[] first = w.First, count = w.Count;
        long work = (long)outer * outSize * inner * taps;
        fixed (float* pinned = w.Weights)
        {
            float* weights = pinned;
            if (inner == 1)
            {
                // Contiguous axis: each output is a short dot product over neighbouring inputs.
                ForEach(outer, work, o =>
                {
                    float* from = src + (long)o * inSize, to = dst + (long)o * outSize;
                    for (int j = 0; j < outSize; j++)
                    {
                        float* wj = weights + j * taps, fj = from + first[j];
                        float sum = 0;
                        for (int t = 0; t < count[j]; t++) sum += wj[t] * fj[t];
                        to[j] = sum;
                    }
                });
                return;
            }
            // Strided axis: each output slice is a weighted sum of whole input slices, vectorised along inner.
            ForEach(outer * outSize, work, item =>
            {
                int o = item / outSize, j = item % outSize;
                WeightedSlices(src + ((long)o * inSize + first[j]) * inner, inner, weights + j * taps, count[j], dst + (long)item * inner);
            });
        }
    }

    /// <summary>to[e] = Σ_t w[t] · from[t·inner + e]; the accumulator stays in a register across the taps.</summary>
    private static void WeightedSlices(float* from, int inner, float* w, int taps, float* to)
    {
        int e = 0;
        for (; e + Vector<float>.Count <= inner; e += Vector<float>.Count)
        {
            var acc = Vector<float>.Zero;
            for (int t = 0; t < taps; t++) acc += new Vector<float>(w[t]) * Vector.Load(from + (long)t * inner + e);
            acc.Store(to + e);
        }
        for (; e < inner; e++)
        {
            float sum = 0;
            for (int t = 0; t < taps; t++) sum += w[t] * from[(long)t * inner + e];
            to[e] = sum;
        }
    }

    private static void ForEach(int count, long work, Action<int> body)
    {
        if (count > 1 && work >= MinParallelWork) Parallel.For(0, count, body);
        else for (int i = 0; i < count; i++) body(i);
    }

    private static float[] Scratch(ref float[]? buffer, long length)
    {
        if (buffer is null || buffer.Length < length) buffer = new float[checked((int)length)];
        return buffer;
    }
}
