using PixelLLM.Runtime;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class ReduceTests
{
    private static double[] SoftmaxRef(double[] x, int width, bool log)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / width; r++)
        {
            var row = x.AsSpan(r * width, width);
            double max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double sum = 0;
            foreach (var v in row) sum += Math.Exp(v - max);
            for (int i = 0; i < width; i++) y[r * width + i] = log ? row[i] - max - Math.Log(sum) : Math.Exp(row[i] - max) / sum;
        }
        return y;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SoftmaxFamilyMatchesFloat64(bool log)
    {
        Op op = log ? new LogSoftmaxOp() : new SoftmaxOp();
        foreach (var (shape, scale) in new[] { (new[] { 3, 7, 37 }, 5f), (new[] { 2, 32128 }, 20f), (new[] { 4, 3 }, 1000f) })
        {
            var x = OpHarness.Random(new Random(shape.Sum()), shape, scale);
            var y = OpHarness.Run(op, x);
            OpHarness.AssertClose(SoftmaxRef(OpHarness.AsDoubles(x), shape[^1], log), y, what: $"{op.Name} {x.Shape}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SoftmaxHandlesInfiniteEntriesLikePyTorch(bool log)
    {
        float ninf = float.NegativeInfinity;
        var x = HostTensor.FromArray([ninf, 1f, ninf, 2f, ninf, ninf, ninf, ninf, 0.5f, 0.5f, 0.5f, 0.5f], 3, 4);
        var y = OpHarness.Run(log ? new LogSoftmaxOp() : new SoftmaxOp(), x).ToFloatArray();
        double e = 1 / (1 + Math.E);
        if (log)
        {
            Assert.True(float.IsNegativeInfinity(y[0]) && float.IsNegativeInfinity(y[2]), "−∞ inputs give −∞ log-probabilities");
            OpHarness.AssertClose([Math.Log(e), Math.Log(1 - e)], [y[1], y[3]], atol: 1e-6, rtol: 1e-6);
        }
        else
        {
            OpHarness.AssertClose([0, e, 0, 1 - e], y.AsSpan(0, 4), atol: 1e-6, rtol: 1e-6);
        }
        Assert.All(y[4..8], v => Assert.True(float.IsNaN(v), "an all −∞ row gives NaN"));
        OpHarness.AssertClose(Enumerable.Repeat(log ? Math.Log(0.25) : 0.25, 4).ToArray(), y.AsSpan(8, 4), atol: 1e-6, rtol: 1e-6);
    }

    [Fact]
    public void ArgMaxTakesFirstMaximumAndFirstNaN()
    {
        var x = OpHarness.Random(new Random(20), [3, 7, 37], 1f);
        var y = OpHarness.Run(new ArgMaxOp(), x);
        Assert.Equal(new[] { 3, 7 }, y.Shape.ToArray());
        var xs = x.ToFloatArray();
        var expected = Enumerable.Range(0, 21).Select(r => Enumerable.Range(0, 37).Aggregate(0, (best, i) => xs[r * 37 + i] > xs[r * 37 + best] ? i : best));
        Assert.Equal(expected.ToArray(), y.AsSpan<int>().ToArray());

        float nan = float.NaN;
        var special = HostTensor.FromArray([1f, 3f, 3f, 2f, /**/ -0f, 0f, -1f, -0f, /**/ 1f, nan, 5f, nan, /**/ float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity], 4, 4);
        Assert.Equal([1, 0, 1, 0], OpHarness.Run(new ArgMaxOp(), special).AsSpan<int>().ToArray());
    }

    /// <summary>Reference top-k: order by value descending (NaN first), index ascending on ties.</summary>
    private static int[] TopKRef(ReadOnlySpan<float> row, int k)
    {
        var values = row.ToArray();
        return Enumerable.Range(0, values.Length)
            .OrderByDescending(i => float.IsNaN(values[i]) ? double.PositiveInfinity : values[i])
            .ThenByDescending(i => float.IsNaN(values[i]))
            .ThenBy(i => i)
            .Take(k).ToArray();
    }

    [Theory]
    [InlineData(5, 37, 7)]
    [InlineData(3, 32128, 8)]
    [InlineData(2, 41, 41)]
    [InlineData(4, 1000, 300)]
    [InlineData(1, 9, 1)]
    public void TopKMatchesStableSort(int rows, int width, int k)
    {
        var rng = new Random(width + k);
        // Values on a coarse grid so ties are common.
        var values = Enumerable.Range(0, rows * width).Select(_ => (float)rng.Next(-50, 50)).ToArray();
        var y = OpHarness.Run(new TopKOp(k), HostTensor.FromArray(values, rows, width));
        Assert.Equal(new[] { rows, k }, y.Shape.ToArray());
        var got = y.AsSpan<int>().ToArray();
        for (int r = 0; r < rows; r++)
            Assert.Equal(TopKRef(values.AsSpan(r * width, width), k), got.AsSpan(r * k, k).ToArray());
    }

    [Fact]
    public void TopKOrdersTiesByIndexAndNaNFirst()
    {
        float nan = float.NaN;
        var x = HostTensor.FromArray([2f, 5f, 5f, 1f, 5f, 2f, /**/ 0f, nan, 3f, nan, 3f, float.PositiveInfinity], 2, 6);
        Assert.Equal([1, 2, 4, 0, /**/ 1, 3, 5, 2], OpHarness.Run(new TopKOp(4), x).AsSpan<int>().ToArray());
        // Large row with the winners late, after many equal values, exercising the vector skip.
        var row = Enumerable.Repeat(1f, 32128).ToArray();
        row[32127] = 9f;
        row[100] = 9f;
        row[31000] = nan;
        Assert.Equal([31000, 100, 32127, 0, 1], OpHarness.Run(new TopKOp(5), HostTensor.FromArray(row, 1, 32128)).AsSpan<int>().ToArray());
    }

    [Fact]
    public void TakeAlongLastGathersAndChecksRange()
    {
        var rng = new Random(21);
        var x = OpHarness.Random(rng, [3, 5, 11]);
        var idx = Enumerable.Range(0, 3 * 5 * 4).Select(_ => rng.Next(0, 11)).ToArray();
        var y = OpHarness.Run(new TakeAlongLastOp(), x, HostTensor.FromArray(idx, 3, 5, 4));
        var xs = x.ToFloatArray();
        Assert.Equal(idx.Select((ix, i) => xs[i / 4 * 11 + ix]).ToArray(), y.ToFloatArray());

        var ints = HostTensor.FromArray(Enumerable.Range(100, 22).ToArray(), 2, 11);
        var yi = OpHarness.Run(new TakeAlongLastOp(), ints, HostTensor.FromArray([10, 0, 0, 3, 3, 5], 2, 3));
        Assert.Equal([110, 100, 100, 114, 114, 116], yi.AsSpan<int>().ToArray());

        var bad = HostTensor.FromArray([0, 11, 2], 1, 3);
        var ex = Assert.Throws<InvalidInputException>(() => OpHarness.Run(new TakeAlongLastOp(), HostTensor.FromArray(new float[11], 1, 11), bad));
        Assert.Contains("11", ex.Message);
        Assert.Throws<InvalidInputException>(() => OpHarness.Run(new TakeAlongLastOp(), HostTensor.FromArray(new float[11], 1, 11), HostTensor.FromArray([-1], 1, 1)));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    [InlineData(-1, false)]
    [InlineData(-3, false)]
    public void ReduceMeanOverAnyAxis(int axis, bool keepDim)
    {
        int[] shape = [2, 5, 9, 11];
        var x = OpHarness.Random(new Random(22 + axis), shape, 3f);
        var y = OpHarness.Run(new ReduceMeanOp(axis, keepDim), x);
        OpHarness.AssertClose(ExpectedReduction(x, axis, keepDim, y, column => column.Average()), y);
    }

    /// <summary>Checks y's shape for a reduction of <paramref name="axis"/> and computes it in float64 column by column.</summary>
    private static double[] ExpectedReduction(HostTensor x, int axis, bool keepDim, HostTensor y, Func<double[], double> reduce)
    {
        int[] shape = x.Shape.ToArray();
        int a = axis < 0 ? axis + shape.Length : axis;
        var outShape = shape.ToList();
        if (keepDim) outShape[a] = 1; else outShape.RemoveAt(a);
        Assert.Equal(outShape.ToArray(), y.Shape.ToArray());
        int outer = shape[..a].Aggregate(1, (p, d) => p * d), n = shape[a], inner = shape[(a + 1)..].Aggregate(1, (p, d) => p * d);
        var xs = x.ToFloatArray();
        var expected = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
                expected[o * inner + i] = reduce([.. Enumerable.Range(0, n).Select(k => (double)xs[(o * n + k) * inner + i])]);
        return expected;
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(-1, true)]
    public void ReduceMaxOverAnyAxis(int axis, bool keepDim)
    {
        int[] shape = [3, 7, 5, 2];
        var x = OpHarness.Random(new Random(31 + axis), shape, 3f);
        var y = OpHarness.Run(new ReduceMaxOp(axis, keepDim), x);
        // A maximum is one of the values: exact.
        Assert.Equal(ExpectedReduction(x, axis, keepDim, y, column => column.Max()).Select(v => (float)v), y.ToFloatArray());
    }

    [Fact]
    public void ReduceMaxKeepsANaNAndRefusesAnEmptyAxis()
    {
        var x = HostTensor.FromArray(new[] { 1f, float.NaN, 3f, -1f, -2f, -0.5f }, 2, 3);
        Assert.Equal(new[] { float.NaN, -0.5f }, OpHarness.Run(new ReduceMaxOp(1), x).ToFloatArray());
        var e = Assert.Throws<GraphBuildException>(() => new ReduceMaxOp(0).InferOutput([new TensorDesc(DType.F32, new Shape(0, 4))]));
        Assert.Contains("empty axis", e.Message);
    }

    [Fact]
    public void ReduceMeanOfLongRowsAndWideColumns()
    {
        foreach (var (shape, axis) in new[] { (new[] { 3, 20_011 }, 1), (new[] { 301, 5003 }, 0) })
        {
            var x = OpHarness.Random(new Random(shape[0]), shape, 2f);
            var y = OpHarness.Run(new ReduceMeanOp(axis), x);
            var xs = x.ToFloatArray();
            var expected = axis == 1
                ? Enumerable.Range(0, shape[0]).Select(r => Enumerable.Range(0, shape[1]).Average(i => (double)xs[r * shape[1] + i])).ToArray()
                : Enumerable.Range(0, shape[1]).Select(c => Enumerable.Range(0, shape[0]).Average(r => (double)xs[r * shape[1] + c])).ToArray();
            OpHarness.AssertClose(expected, y, atol: 1e-5);
        }
    }

    [Fact]
    public void EmbeddingGathersRowsForI32AndI64Ids()
    {
        var table = OpHarness.Random(new Random(23), [13, 37]);
        var ts = table.ToFloatArray();
        int[] ids32 = [0, 12, 5, 5, 7, 1, 2, 3, 4, 11, 10, 9, 8, 6, 0];
        var y = OpHarness.Run(new EmbeddingOp(), table, HostTensor.FromArray(ids32, 3, 5));
        Assert.Equal(new[] { 3, 5, 37 }, y.Shape.ToArray());
        Assert.Equal(ids32.SelectMany(id => ts.Skip(id * 37).Take(37)).ToArray(), y.ToFloatArray());

        long[] ids64 = [12, 0, 3, 3, 9, 1, 4, 4, 4, 2, 11, 7];
        var y64 = OpHarness.Run(new EmbeddingOp(), table, HostTensor.FromArray(ids64, 2, 2, 3));
        Assert.Equal(new[] { 2, 2, 3, 37 }, y64.Shape.ToArray());
        Assert.Equal(ids64.SelectMany(id => ts.Skip((int)id * 37).Take(37)).ToArray(), y64.ToFloatArray());
    }

    [Theory]
    [InlineData(13L)]
    [InlineData(-1L)]
    [InlineData(1L << 33)]
    public void EmbeddingRejectsIdsOutsideVocabulary(long badId)
    {
        var table = OpHarness.Random(new Random(24), [13, 8]);
        var ex = Assert.Throws<InvalidInputException>(() => OpHarness.Run(new EmbeddingOp(), table, HostTensor.FromArray([1L, badId], 2)));
        Assert.Contains($"id {badId}", ex.Message);
        Assert.Contains("13", ex.Message);
        if (badId is >= int.MinValue and <= int.MaxValue)
            Assert.Throws<InvalidInputException>(() => OpHarness.Run(new EmbeddingOp(), table, HostTensor.FromArray([(int)badId], 1)));
    }
}
