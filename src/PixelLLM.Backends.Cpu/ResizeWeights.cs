using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cpu;

/// <summary>
/// The sparse weight matrix of one resized axis, as jax.image.scale_and_translate builds it (spec §12.1, errata B6):
/// output j reads inputs First[j] … First[j] + Count[j] − 1 with weights Weights[j·Taps + t].
/// Everything is evaluated in float32 in the reference's order of operations so the weights match it bit for bit.
/// </summary>
internal sealed class ResizeWeights
{
    /// <summary>numpy's finfo(float32).eps; a column whose raw weights sum to ≤ 1000·eps is zeroed, not normalised.</summary>
    private const float Float32Epsilon = 1.1920929e-7f;

    private ResizeWeights(int outSize, int taps)
    {
        Taps = taps;
        First = new int[outSize];
        Count = new int[outSize];
        Weights = new float[outSize * taps];
    }

    public int Taps { get; }
    public int[] First { get; }
    public int[] Count { get; }
    public float[] Weights { get; }

    public static ResizeWeights Build(int inSize, int outSize, ResizeKernel kernel, bool antialias)
    {
        float inverseScale = (float)(1.0 / ((double)outSize / inSize));
        float kernelScale = antialias ? MathF.Max(inverseScale, 1f) : 1f;
        float radius = (kernel == ResizeKernel.Linear ? 1f : 2f) * kernelScale;
        var table = new ResizeWeights(outSize, (int)MathF.Ceiling(2 * radius) + 3);
        for (int j = 0; j < outSize; j++)
        {
            float sample = (j + 0.5f) * inverseScale - 0.5f;
            // Samples outside the input's extent get no weight at all (no edge clamping).
            if (!(sample >= -0.5f && sample <= inSize - 0.5f)) continue;
            int first = Math.Max(0, (int)MathF.Floor(sample - radius));
            int last = Math.Min(inSize - 1, (int)MathF.Ceiling(sample + radius));
            var w = table.Weights.AsSpan(j * table.Taps, last - first + 1);
            float sum = 0;
            for (int t = 0; t < w.Length; t++)
                sum += w[t] = Evaluate(kernel, MathF.Abs(sample - (first + t)) / kernelScale);
            if (!(MathF.Abs(sum) > 1000 * Float32Epsilon))
            {
                w.Clear();
                continue;
            }
            for (int t = 0; t < w.Length; t++) w[t] /= sum;
            table.First[j] = first;
            table.Count[j] = w.Length;
        }
        return table;
    }

    /// <summary>Triangle, or Keys cubic with a = −0.5, at distance x ≥ 0 (in units of the widened kernel).</summary>
    private static float Evaluate(ResizeKernel kernel, float x)
    {
        if (kernel == ResizeKernel.Linear) return MathF.Max(0f, 1f - x);
        if (x >= 2f) return 0f;
        if (x >= 1f) return ((-0.5f * x + 2.5f) * x - 4f) * x + 2f;
        return (1.5f * x - 2.5f) * x * x + 1f;
    }
}
