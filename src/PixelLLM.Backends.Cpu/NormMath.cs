using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// Float statistics for the norms. Mean and variance use a shifted two-pass scheme: a first plain sum gives a shift
/// close to the mean, then Σ(x − shift) and Σ(x − shift)² are accumulated. The deviations are small, so neither sum
/// cancels, and the mean correction Σ(x − shift)/n is applied separately instead of rounding shift + correction into
/// one float. This keeps rows with a large offset (e.g. +100) within ~1e-6 of float64.
/// </summary>
internal static class NormMath
{
    /// <summary>Shift, mean correction (mean = shift + delta) and 1/√(biased var + eps) of one contiguous row.</summary>
    public static (float Shift, float Delta, float InvStd) RowMoments(ReadOnlySpan<float> x, float eps)
    {
        float shift = TensorPrimitives.Sum(x) / x.Length;
        var (sum, sumSq) = ShiftedSums(x, shift);
        float delta = sum / x.Length;
        float variance = Math.Max(sumSq / x.Length - delta * delta, 0f);
        return (shift, delta, 1f / MathF.Sqrt(variance + eps));
    }

    /// <summary>Σ(x − shift) and Σ(x − shift)².</summary>
    public static (float Sum, float SumSq) ShiftedSums(ReadOnlySpan<float> x, float shift)
    {
        const int Lanes = 8;
        var s = Vector256.Create(shift);
        // Two accumulator pairs: one add chain would stall on the add latency every step.
        Vector256<float> sum0 = default, sum1 = default, sq0 = default, sq1 = default;
        int i = 0;
        for (; i <= x.Length - 2 * Lanes; i += 2 * Lanes)
        {
            var d0 = Vector256.Create(x.Slice(i, Lanes)) - s;
            var d1 = Vector256.Create(x.Slice(i + Lanes, Lanes)) - s;
            sum0 += d0;
            sum1 += d1;
            sq0 = Vector256.FusedMultiplyAdd(d0, d0, sq0);
            sq1 = Vector256.FusedMultiplyAdd(d1, d1, sq1);
        }
        float tail = 0, tailSq = 0;
        for (; i < x.Length; i++)
        {
            float d = x[i] - shift;
            tail += d;
            tailSq = MathF.FusedMultiplyAdd(d, d, tailSq);
        }
        return (Vector256.Sum(sum0 + sum1) + tail, Vector256.Sum(sq0 + sq1) + tailSq);
    }

    /// <summary>Elementwise sum += x − shift and sumSq += (x − shift)² (shift per element).</summary>
    public static void AccumulateShifted(ReadOnlySpan<float> x, ReadOnlySpan<float> shift, Span<float> sum, Span<float> sumSq)
    {
        int n = x.Length, i = 0;
        for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var d = Vector256.Create(x.Slice(i, Vector256<float>.Count)) - Vector256.Create(shift.Slice(i, Vector256<float>.Count));
            (Vector256.Create(sum.Slice(i, Vector256<float>.Count)) + d).CopyTo(sum.Slice(i));
            Vector256.FusedMultiplyAdd(d, d, Vector256.Create(sumSq.Slice(i, Vector256<float>.Count))).CopyTo(sumSq.Slice(i));
        }
        for (; i < n; i++)
        {
            float d = x[i] - shift[i];
            sum[i] += d;
            sumSq[i] = MathF.FusedMultiplyAdd(d, d, sumSq[i]);
        }
    }

    /// <summary>y = ((x − shift) − delta)·invStd·w + b over a row; w and b may be empty (then 1 and 0).</summary>
    public static unsafe void NormalizeRow(ReadOnlySpan<float> x, float shift, float delta, float invStd,
        ReadOnlySpan<float> w, ReadOnlySpan<float> b, Span<float> y)
    {
        const int Lanes = 8;
        int n = x.Length, i = 0;
        bool hasW = !w.IsEmpty, hasB = !b.IsEmpty;
        if (y.Length < n || (hasW && w.Length < n) || (hasB && b.Length < n)) throw new ArgumentException("NormalizeRow: operand shorter than the row");
        var vs = Vector256.Create(shift);
        var vd = Vector256.Create(delta);
        var vr = Vector256.Create(invStd);
        fixed (float* px = x, pw = w, pb = b, py = y)
        {
            if (hasW && hasB)
            {
                for (; i <= n - Lanes; i += Lanes)
                {
                    var t = (Vector256.Load(px + i) - vs - vd) * vr;
                    Vector256.FusedMultiplyAdd(t, Vector256.Load(pw + i), Vector256.Load(pb + i)).Store(py + i);
                }
            }
            else
            {
                for (; i <= n - Lanes; i += Lanes)
                {
                    var t = (Vector256.Load(px + i) - vs - vd) * vr;
                    if (hasW) t *= Vector256.Load(pw + i);
                    if (hasB) t += Vector256.Load(pb + i);
                    t.Store(py + i);
                }
            }
            for (; i < n; i++)
            {
                float t = (px[i] - shift - delta) * invStd;
                if (hasW) t *= pw[i];
                if (hasB) t += pb[i];
                py[i] = t;
            }
        }
    }
}
