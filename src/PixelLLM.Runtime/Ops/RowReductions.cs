using System.Runtime.Intrinsics;

namespace PixelLLM.Runtime.Ops;

/// <summary>Host-side row reductions shared by the CPU backend's softmax rows and the host's greedy choice.</summary>
public static class RowReductions
{
    /// <summary>Σ exp(v − shift), eight lanes at a time, without storing the exponentials.</summary>
    public static float SumOfExp(ReadOnlySpan<float> v, float shift)
    {
        var offset = Vector256.Create(shift);
        Vector256<float> acc = default;
        int i = 0;
        for (; i <= v.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            acc += Vector256.Exp(Vector256.Create(v.Slice(i, Vector256<float>.Count)) - offset);
        float tail = 0;
        for (; i < v.Length; i++) tail += MathF.Exp(v[i] - shift);
        return Vector256.Sum(acc) + tail;
    }
}
