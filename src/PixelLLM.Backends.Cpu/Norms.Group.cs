using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

internal static unsafe partial class Norms
{
    /// <summary>
    /// Group norm on channels-last x (B, ..., C): per batch item and group of C/G consecutive channels, statistics over
    /// every position and the group's channels. Sums are gathered per channel (vectorised along C) over slices of the
    /// positions in parallel, then folded into groups; the same shifted two-pass scheme as <see cref="NormMath"/>.
    /// </summary>
    public static void GroupNorm(GroupNormOp op, ReadOnlySpan<CpuTensor> x, CpuTensor y)
    {
        var input = x[0];
        int channels = input.Shape[-1], batch = input.Shape[0];
        if (input.Length == 0) return;
        long positions = input.Length / ((long)batch * channels);
        int slices = (int)Math.Clamp((positions * channels) / ParallelGrain, 1, Math.Min(Environment.ProcessorCount, positions));
        var scratch = ScratchBuffer.Rent(2 * slices * channels + 3 * channels);
        fixed (float* s = scratch)
        {
            var layout = new GroupNormScratch(s, slices, channels);
            for (int item = 0; item < batch; item++)
            {
                float* xb = input.F32Ptr + item * positions * channels, yb = y.F32Ptr + item * positions * channels;
                GroupStatistics(xb, x[1].F32Ptr, positions, channels, op.Groups, op.Eps, layout);
                KernelParallel.For(positions, RowGrain(channels), new GroupNormalizeRows(xb, x[2].F32Ptr, yb, channels, layout));
            }
        }
    }

    /// <summary>Per-slice channel partial sums, then per-channel shift, mean correction and invStd·weight.</summary>
    private readonly struct GroupNormScratch(float* s, int slices, int channels)
    {
        public readonly int Slices = slices;
        public readonly float* PartialSum = s, PartialSumSq = s + slices * channels;
        public readonly float* Shift = s + 2 * slices * channels, Delta = s + (2 * slices + 1) * channels, Scale = s + (2 * slices + 2) * channels;
    }

    private static void GroupStatistics(float* x, float* w, long positions, int channels, int groups, float eps, GroupNormScratch s)
    {
        int perGroup = channels / groups;
        double count = (double)positions * perGroup;
        KernelParallel.For(s.Slices, 1, new ChannelSums(x, positions, channels, s, shifted: false));
        for (int g = 0; g < groups; g++)
        {
            float mean = (float)(SumSlices(s.PartialSum, s.Slices, channels, g * perGroup, perGroup) / count);
            new Span<float>(s.Shift + g * perGroup, perGroup).Fill(mean);
        }
        KernelParallel.For(s.Slices, 1, new ChannelSums(x, positions, channels, s, shifted: true));
        for (int g = 0; g < groups; g++)
        {
            float delta = (float)(SumSlices(s.PartialSum, s.Slices, channels, g * perGroup, perGroup) / count);
            float meanSq = (float)(SumSlices(s.PartialSumSq, s.Slices, channels, g * perGroup, perGroup) / count);
            float invStd = 1f / MathF.Sqrt(Math.Max(meanSq - delta * delta, 0f) + eps);
            new Span<float>(s.Delta + g * perGroup, perGroup).Fill(delta);
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(w + g * perGroup, perGroup), invStd, new Span<float>(s.Scale + g * perGroup, perGroup));
        }
    }

    /// <summary>Σ over slices and channels [from, from + count) of a (slices, channels) partial-sum table.</summary>
    private static double SumSlices(float* partial, int slices, int channels, int from, int count)
    {
        double total = 0;
        for (int k = 0; k < slices; k++) total += TensorPrimitives.Sum(new ReadOnlySpan<float>(partial + k * channels + from, count));
        return total;
    }

    /// <summary>Slice k of the positions: per-channel Σx, or Σ(x − shift) and Σ(x − shift)² when <paramref name="shifted"/>.</summary>
    private readonly struct ChannelSums(float* x, long positions, int channels, GroupNormScratch s, bool shifted) : IRangeBody
    {
        public void Run(long start, long end)
        {
            for (long k = start; k < end; k++)
            {
                var sum = new Span<float>(s.PartialSum + k * channels, channels);
                var sumSq = new Span<float>(s.PartialSumSq + k * channels, channels);
                var shift = new ReadOnlySpan<float>(s.Shift, channels);
                sum.Clear();
                sumSq.Clear();
                for (long p = k * positions / s.Slices; p < (k + 1) * positions / s.Slices; p++)
                {
                    var row = new ReadOnlySpan<float>(x + p * channels, channels);
                    if (shifted) NormMath.AccumulateShifted(row, shift, sum, sumSq);
                    else TensorPrimitives.Add(sum, row, sum);
                }
            }
        }
    }

    /// <summary>y = ((x − shift) − delta)·scale + bias, all per channel.</summary>
    private readonly struct GroupNormalizeRows(float* x, float* bias, float* y, int channels, GroupNormScratch s) : IRangeBody
    {
        public void Run(long start, long end)
        {
            const int Lanes = 8;
            for (long p = start; p < end; p++)
            {
                float* xr = x + p * channels, yr = y + p * channels;
                int c = 0;
                for (; c <= channels - Lanes; c += Lanes)
                {
                    var t = Vector256.Load(xr + c) - Vector256.Load(s.Shift + c) - Vector256.Load(s.Delta + c);
                    Vector256.FusedMultiplyAdd(t, Vector256.Load(s.Scale + c), Vector256.Load(bias + c)).Store(yr + c);
                }
                for (; c < channels; c++) yr[c] = MathF.FusedMultiplyAdd(xr[c] - s.Shift[c] - s.Delta[c], s.Scale[c], bias[c]);
            }
        }
    }
}
