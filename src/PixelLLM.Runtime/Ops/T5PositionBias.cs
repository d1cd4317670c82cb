using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Profiling;

namespace PixelLLM.Runtime.Ops;

/// <summary>
/// T5's relative-position bias by distance, (1, H, Lq + Lk − 1), from its bucket embedding table (NumBuckets, H): the
/// bias of query i and key j depends on j − i only, so element t[h, d] holds it for j − i = d − (Lq − 1):
/// t[h, d] = table[bucket(d − (Lq − 1) − offset), h], where offset is <see cref="QueryOffset"/>, plus the I32 (1) position
/// input when <see cref="HasPosition"/> (a decode step's query position, which changes on every replay of a captured
/// step). <see cref="AttentionOp.BiasByDistance"/> reads it as the (Lq, Lk) bias without materialising that. The buckets
/// are computed where the bias is written — no bucket table exists anywhere — by <see cref="Bucket"/>'s float32
/// arithmetic, so boundary distances land in the reference's bucket.
/// </summary>
public sealed record T5PositionBiasOp(int QueryLength, int KeyLength, bool Bidirectional, int NumBuckets, int MaxDistance,
    int QueryOffset = 0, bool HasPosition = false) : Op
{
    public override TensorDesc InferOutput(IReadOnlyList<TensorDesc> inputs)
    {
        ExpectInputs(inputs, HasPosition ? 2 : 1);
        ExpectDType(inputs[0], "table", DType.F32, DType.BF16, DType.F16);
        ExpectRank(inputs[0], "table", 2, 2);
        if (QueryLength < 1 || KeyLength < 1) throw Fail($"query and key lengths must be ≥ 1, got {QueryLength} and {KeyLength}");
        int exact = (Bidirectional ? NumBuckets / 2 : NumBuckets) / 2;
        if (exact < 1 || MaxDistance <= exact)
            throw Fail($"{NumBuckets} buckets{(Bidirectional ? " (bidirectional)" : "")} up to distance {MaxDistance} leave no exact buckets below the log-spaced ones");
        if (inputs[0].Shape[0] != NumBuckets) throw Fail($"table {inputs[0].Shape} must have {NumBuckets} rows, one per bucket");
        if (HasPosition && (inputs[1].DType != DType.I32 || inputs[1].Shape.ElementCount != 1))
            throw Fail($"position must be one I32, got {inputs[1]}");
        return new TensorDesc(inputs[0].DType, new Shape(1, inputs[0].Shape[1], Distances));
    }

    /// <summary>How many distances j − i there are: Lq + Lk − 1, from −(Lq − 1) to Lk − 1.</summary>
    public int Distances => QueryLength + KeyLength - 1;

    /// <summary>The key's position relative to its query for element <paramref name="distance"/> of a row, with the queries starting at <paramref name="start"/>.</summary>
    public long Relative(int distance, long start) => distance - (QueryLength - 1L) - start;

    /// <summary>A gather: every output element read once from the table and written once.</summary>
    public override OpCost? Cost(IReadOnlyList<TensorDesc> inputs, TensorDesc output) => new(0, 2 * output.ByteSize);

    /// <summary>
    /// The bucket of a key <paramref name="relative"/> positions after its query (negative: before): exact buckets for
    /// distances below half of a direction's buckets, log-spaced up to <paramref name="maxDistance"/>, the last bucket beyond.
    /// Float32 throughout, as the reference computes it.
    /// </summary>
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
}

public static partial class GraphOps
{
    /// <summary>
    /// T5's relative-position bias by distance (see <see cref="T5PositionBiasOp"/>) for queries at <paramref name="queryOffset"/> (plus
    /// <paramref name="position"/>'s value when given) and keys at 0 … <paramref name="keyLength"/> − 1.
    /// </summary>
    public static Tensor T5PositionBias(this Graph g, Tensor table, int queryLength, int keyLength, bool bidirectional, int numBuckets,
        int maxDistance, int queryOffset = 0, Tensor? position = null) =>
        position is null
            ? g.Apply(new T5PositionBiasOp(queryLength, keyLength, bidirectional, numBuckets, maxDistance, queryOffset), table)
            : g.Apply(new T5PositionBiasOp(queryLength, keyLength, bidirectional, numBuckets, maxDistance, queryOffset, HasPosition: true), table, position);
}
