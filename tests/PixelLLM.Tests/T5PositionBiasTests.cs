using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>T5PositionBias: T5's relative-position bias with its buckets computed in the op (CPU here; CUDA in backend-check).</summary>
public class T5PositionBiasTests
{
    /// <summary>The (Lq, Lk) bias the attention reads from t[h, j − i + Lq − 1], as a (1, H, Lq, Lk) array.</summary>
    private static float[] Unfolded(float[] t, int heads, int lq, int lk)
    {
        var y = new float[heads * lq * lk];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < lq; i++)
                for (int j = 0; j < lk; j++)
                    y[(h * lq + i) * lk + j] = t[h * (lq + lk - 1) + j - i + lq - 1];
        return y;
    }

    /// <summary>bias[h, i, j] = table[bucket(j − (offset + i)), h], written out the long way for every pair.</summary>
    private static float[] Expected(float[] table, int heads, int lq, int lk, int offset, bool bidirectional, int buckets, int maxDistance)
    {
        var y = new float[heads * lq * lk];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < lq; i++)
                for (int j = 0; j < lk; j++)
                    y[(h * lq + i) * lk + j] = table[T5PositionBiasOp.Bucket(j - (offset + i), bidirectional, buckets, maxDistance) * heads + h];
        return y;
    }

    [Theory]
    [InlineData(5, 23, true, 10, 19, 0)]
    [InlineData(7, 4, false, 12, 30, 3)]
    [InlineData(40, 40, true, 32, 128, 0)]
    [InlineData(3, 301, false, 32, 128, 17)]
    public void EveryPairTakesItsBucketsRow(int lq, int lk, bool bidirectional, int buckets, int maxDistance, int offset)
    {
        const int heads = 3;
        var table = OpHarness.Random(new Random(lq * 31 + lk), [buckets, heads]);
        var y = OpHarness.Run(new T5PositionBiasOp(lq, lk, bidirectional, buckets, maxDistance, QueryOffset: offset), table);
        Assert.Equal(new Shape(1, heads, lq + lk - 1), y.Shape);
        Assert.Equal(Expected(table.ToFloatArray(), heads, lq, lk, offset, bidirectional, buckets, maxDistance), Unfolded(y.ToFloatArray(), heads, lq, lk));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    [InlineData(250)]
    public void APositionInputMovesTheQueries(int position)
    {
        const int heads = 2, lk = 37;
        var table = OpHarness.Random(new Random(position + 1), [9, heads]);
        var y = OpHarness.Run(new T5PositionBiasOp(2, lk, false, 9, 25, QueryOffset: 1, HasPosition: true), table, HostTensor.FromArray([position], 1));
        Assert.Equal(Expected(table.ToFloatArray(), heads, 2, lk, 1 + position, false, 9, 25), Unfolded(y.ToFloatArray(), heads, 2, lk));
    }

    [Fact]
    public void SixteenBitTablesAreCopiedBitForBit()
    {
        var bits = Enumerable.Range(0, 8 * 2).Select(i => (ushort)(0x3f80 + 37 * i)).ToArray();
        var table = new HostTensor(new TensorDesc(DType.BF16, new Shape(8, 2)), bits.SelectMany(BitConverter.GetBytes).ToArray());
        var y = OpHarness.Run(new T5PositionBiasOp(4, 6, true, 8, 12), table);
        Assert.Equal(DType.BF16, y.DType);
        var got = y.AsSpan<ushort>().ToArray();
        for (int h = 0; h < 2; h++)
            for (int d = 0; d < 9; d++)
                Assert.Equal(bits[T5PositionBiasOp.Bucket(d - 3, true, 8, 12) * 2 + h], got[h * 9 + d]);
    }

    /// <summary>
    /// T5's self-attention with the bias by distance equals it with the (Lq, Lk) bias written out, to the bit: the
    /// attention reads the same values, only from the (Lq + Lk − 1) row (packed q | k | v with the encoder's key mask, and
    /// a causal decoder with more keys than queries).
    /// </summary>
    [Theory]
    [InlineData(true, 23, 23)]
    [InlineData(false, 6, 11)]
    public void AttentionByDistanceEqualsTheWrittenOutBias(bool encoder, int lq, int lk)
    {
        const int heads = 3, dim = 8;
        var rng = new Random(lq * 7 + lk);
        var table = OpHarness.Random(rng, [32, heads]);
        var t = OpHarness.Run(new T5PositionBiasOp(lq, lk, encoder, 32, 128), table);
        var full = HostTensor.FromArray(Unfolded(t.ToFloatArray(), heads, lq, lk), 1, heads, lq, lk);
        var mask = new HostTensor(new TensorDesc(DType.U8, new Shape(2, 1, 1, lk)), Enumerable.Range(0, 2 * lk).Select(i => (byte)(i % 5 == 4 ? 0 : 1)).ToArray());
        if (encoder)
        {
            var qkv = OpHarness.Random(rng, [2, lq, 3 * heads * dim]);
            var byDistance = OpHarness.Run(new AttentionOp(heads, 1f, true, true, false, -1e10f, PackedQkv: true, BiasByDistance: true), qkv, t, mask);
            var written = OpHarness.Run(new AttentionOp(heads, 1f, true, true, false, -1e10f, PackedQkv: true), qkv, full, mask);
            Assert.Equal(written.ToFloatArray(), byDistance.ToFloatArray());
        }
        else
        {
            var (q, k, v) = (OpHarness.Random(rng, [2, lq, heads * dim]), OpHarness.Random(rng, [2, lk, heads * dim]), OpHarness.Random(rng, [2, lk, heads * dim]));
            var byDistance = OpHarness.Run(new AttentionOp(heads, 1f, HasBias: true, Causal: true, BiasByDistance: true), q, k, v, t);
            var written = OpHarness.Run(new AttentionOp(heads, 1f, HasBias: true, Causal: true), q, k, v, full);
            Assert.Equal(written.ToFloatArray(), byDistance.ToFloatArray());
        }
    }

    [Fact]
    public void ABiasByDistanceOfTheWrongLengthIsRejected()
    {
        var q = new TensorDesc(DType.F32, new Shape(2, 5, 16));
        var k = new TensorDesc(DType.F32, new Shape(2, 7, 16));
        var op = new AttentionOp(2, 1f, HasBias: true, BiasByDistance: true);
        Assert.Equal(new Shape(2, 5, 16), op.InferOutput([q, k, k, new TensorDesc(DType.F32, new Shape(1, 2, 11))]).Shape);
        Assert.Contains("one value per distance j − i of 5 queries and 7 keys",
            Assert.Throws<GraphBuildException>(() => op.InferOutput([q, k, k, new TensorDesc(DType.F32, new Shape(1, 2, 5, 7))])).Message);
        Assert.Contains("(2, 2, 11)", Assert.Throws<GraphBuildException>(() => op.InferOutput([q, k, k, new TensorDesc(DType.F32, new Shape(1, 2, 12))])).Message);
        Assert.Contains("no bias", Assert.Throws<GraphBuildException>(() => new AttentionOp(2, 1f, BiasByDistance: true).InferOutput([q, k, k])).Message);
        Assert.Contains("not both", Assert.Throws<GraphBuildException>(() =>
            new AttentionOp(2, 1f, HasBias: true, BiasKeyGridRows: 7, BiasByDistance: true).InferOutput([q, k, k, new TensorDesc(DType.F32, new Shape(1, 2, 11))])).Message);
    }

    /// <summary>
    /// The CUDA kernel takes each log in double and rounds it to float (a correctly rounded logf); the CPU uses MathF.Log.
    /// They must agree on every distance a model can see, in every configuration shape, or the backends would differ.
    /// </summary>
    [Theory]
    [InlineData(32, 128)]
    [InlineData(10, 19)]
    [InlineData(12, 30)]
    [InlineData(9, 25)]
    [InlineData(64, 256)]
    [InlineData(6, 9)]
    public void FloatLogsAgreeWithCorrectlyRoundedOnes(int buckets, int maxDistance)
    {
        foreach (bool bidirectional in new[] { true, false })
        {
            int half = bidirectional ? buckets / 2 : buckets, exact = half / 2;
            for (int n = exact; n < 20_000; n++)
            {
                float near = (float)Math.Log((float)n / exact), far = (float)Math.Log((float)maxDistance / exact);
                int expected = Math.Min(exact + (int)(near / far * (half - exact)), half - 1) + (bidirectional ? half : 0);
                Assert.Equal(expected, T5PositionBiasOp.Bucket(bidirectional ? n : -n, bidirectional, buckets, maxDistance));
            }
        }
    }

    [Fact]
    public void BadTablesAndPositionsNameTheOperand()
    {
        var table = new TensorDesc(DType.F32, new Shape(32, 4));
        Assert.Contains("16 rows", Assert.Throws<GraphBuildException>(() =>
            new T5PositionBiasOp(2, 3, true, 16, 64).InferOutput([table])).Message);
        Assert.Contains("position", Assert.Throws<GraphBuildException>(() =>
            new T5PositionBiasOp(1, 3, false, 32, 128, HasPosition: true).InferOutput([table, new TensorDesc(DType.F32, new Shape(1))])).Message);
        Assert.Contains("exact", Assert.Throws<GraphBuildException>(() =>
            new T5PositionBiasOp(1, 3, true, 3, 128).InferOutput([new TensorDesc(DType.F32, new Shape(3, 4))])).Message);
        Assert.Contains("table", Assert.Throws<GraphBuildException>(() =>
            new T5PositionBiasOp(1, 3, false, 32, 128).InferOutput([new TensorDesc(DType.I32, new Shape(32, 4))])).Message);
    }
}
