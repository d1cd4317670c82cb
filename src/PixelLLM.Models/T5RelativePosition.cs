namespace PixelLLM.Models;

/// <summary>
/// T5's relative-position buckets: exact buckets for small distances, log-spaced up to MaxDistance, one table per stack.
/// Computed in float32 exactly as the reference does, so boundary distances land in the same bucket.
/// </summary>
public static class T5RelativePosition
{
    public static int Bucket(int relative, bool bidirectional, int numBuckets, int maxDistance)
    {
        int bucket = 0;
        int n;
        if (bidirectional)
        {
            numBuckets /= 2;
            if (relative > 0) bucket += numBuckets;
            n = Math.Abs(relative);
        }
        else
        {
            n = -Math.Min(relative, 0);
        }
        int maxExact = numBuckets / 2;
        if (n < maxExact) return bucket + n;
        float scaled = MathF.Log((float)n / maxExact) / MathF.Log((float)maxDistance / maxExact) * (numBuckets - maxExact);
        return bucket + Math.Min(maxExact + (int)scaled, numBuckets - 1);
    }

    /// <summary>Bucket of (query i at position queryOffset + i, key j) for every pair, row-major (Lq, Lk).</summary>
    public static int[] Table(int queryLength, int keyLength, bool bidirectional, int numBuckets, int maxDistance, int queryOffset = 0)
    {
        var table = new int[queryLength * keyLength];
        for (int i = 0; i < queryLength; i++)
            for (int j = 0; j < keyLength; j++)
                table[i * keyLength + j] = Bucket(j - (i + queryOffset), bidirectional, numBuckets, maxDistance);
        return table;
    }
}
