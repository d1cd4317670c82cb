using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class ShapeOpTests
{
    /// <summary>Reference permute: for every output index, read the input at the permuted coordinates.</summary>
    private static T[] PermuteRef<T>(T[] x, int[] shape, int[] perm)
    {
        int rank = shape.Length;
        var outShape = perm.Select(p => shape[p]).ToArray();
        var inStrides = new int[rank];
        for (int i = rank - 1, s = 1; i >= 0; s *= shape[i], i--) inStrides[i] = s;
        var y = new T[x.Length];
        var index = new int[rank];
        for (int flat = 0; flat < y.Length; flat++)
        {
            int rest = flat;
            for (int i = rank - 1; i >= 0; i--) { index[i] = rest % outShape[i]; rest /= outShape[i]; }
            int src = 0;
            for (int i = 0; i < rank; i++) src += index[i] * inStrides[perm[i]];
            y[flat] = x[src];
        }
        return y;
    }

    private static IEnumerable<int[]> Permutations(int n) => n == 1 ? [[0]]
        : Permutations(n - 1).SelectMany(p => Enumerable.Range(0, n).Select(pos => p.Take(pos).Append(n - 1).Concat(p.Skip(pos)).ToArray()));

    private static HostTensor Iota(int[] shape) => HostTensor.FromArray(Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).ToArray(), shape);

    [Fact]
    public void PermuteEveryRank4Order()
    {
        int[] shape = [2, 5, 9, 11];
        var x = Iota(shape);
        var xs = x.AsSpan<int>().ToArray();
        foreach (var perm in Permutations(4))
        {
            var y = OpHarness.Run(new PermuteOp(perm), x);
            Assert.Equal(perm.Select(p => shape[p]).ToArray(), y.Shape.ToArray());
            Assert.Equal(PermuteRef(xs, shape, perm), y.AsSpan<int>().ToArray());
        }
    }

    public static TheoryData<int[], int[]> PermuteCases() => new()
    {
        { [2, 50, 12, 64], [0, 2, 1, 3] },   // attention head split
        { [37, 53], [1, 0] },
        { [300, 257], [1, 0] },              // many tiles, ragged edges
        { [3, 1, 5, 1], [3, 2, 1, 0] },      // size-1 dims
        { [1, 1, 1], [2, 0, 1] },
        { [2, 3, 4, 5, 6], [4, 1, 3, 0, 2] },
        { [2, 3, 4, 5, 6], [0, 1, 2, 4, 3] },
        { [4, 6, 7], [0, 1, 2] },            // identity
        { [3, 64, 64, 32], [0, 3, 1, 2] },   // NHWC → NCHW
        { [3, 32, 64, 64], [0, 2, 3, 1] },   // NCHW → NHWC
    };

    [Theory]
    [MemberData(nameof(PermuteCases))]
    public void PermuteMatchesReference(int[] shape, int[] perm)
    {
        var x = OpHarness.Random(new Random(shape.Sum()), shape);
        var y = OpHarness.Run(new PermuteOp(perm), x);
        Assert.Equal(PermuteRef(x.ToFloatArray(), shape, perm), y.ToFloatArray());
    }

    [Fact]
    public void PermuteMovesEveryElementSize()
    {
        int[] shape = [3, 17, 40];
        int[] perm = [2, 0, 1];
        var bytes = Enumerable.Range(0, 3 * 17 * 40).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(PermuteRef(bytes, shape, perm), OpHarness.Run(new PermuteOp(perm), HostTensor.FromArray(bytes, shape)).AsSpan<byte>().ToArray());
        var halves = bytes.Select(b => (Half)(b - 100)).ToArray();
        Assert.Equal(PermuteRef(halves, shape, perm), OpHarness.Run(new PermuteOp(perm), HostTensor.FromArray(halves, shape)).AsSpan<Half>().ToArray());
        var longs = bytes.Select((b, i) => ((long)i << 33) + b).ToArray();
        Assert.Equal(PermuteRef(longs, shape, perm), OpHarness.Run(new PermuteOp(perm), HostTensor.FromArray(longs, shape)).AsSpan<long>().ToArray());
    }

    [Theory]
    [InlineData(0, 1, 3, 1)]
    [InlineData(1, 0, 5, 2)]
    [InlineData(2, 2, 100, 3)]
    [InlineData(3, 0, 11, 1)]
    [InlineData(-1, 4, 9, 4)]
    [InlineData(2, 8, 9, 1)]
    public void SliceTakesStartStepBelowEnd(int axis, int start, int end, int step)
    {
        int[] shape = [2, 5, 9, 11];
        var x = Iota(shape);
        var y = OpHarness.Run(new SliceOp(axis, start, end, step), x);
        int a = axis < 0 ? axis + 4 : axis;
        var kept = Enumerable.Range(0, shape[a]).Where(i => i >= start && i < end && (i - start) % step == 0).ToArray();
        var expectedShape = shape.ToArray();
        expectedShape[a] = kept.Length;
        Assert.Equal(expectedShape, y.Shape.ToArray());
        var expected = new List<int>();
        var index = new int[4];
        for (int flat = 0; flat < y.Shape.ElementCount; flat++)
        {
            int rest = flat;
            for (int i = 3; i >= 0; i--) { index[i] = rest % expectedShape[i]; rest /= expectedShape[i]; }
            index[a] = kept[index[a]];
            expected.Add(((index[0] * 5 + index[1]) * 9 + index[2]) * 11 + index[3]);
        }
        Assert.Equal(expected, y.AsSpan<int>().ToArray());
    }

    [Fact]
    public void SliceOfLargeF16Rows()
    {
        var values = Enumerable.Range(0, 4 * 70_000).Select(i => (Half)(i % 2048)).ToArray();
        var y = OpHarness.Run(new SliceOp(1, 1000, 69_000, 1), HostTensor.FromArray(values, 4, 70_000));
        var expected = Enumerable.Range(0, 4).SelectMany(r => values.Skip(r * 70_000 + 1000).Take(68_000)).ToArray();
        Assert.Equal(expected, y.AsSpan<Half>().ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(-1)]
    public void ConcatJoinsAlongAnyAxis(int axis)
    {
        int[] baseShape = [3, 4, 5];
        int a = axis < 0 ? axis + 3 : axis;
        int[] sizes = [2, 1, 6];
        var parts = sizes.Select((s, k) =>
        {
            var shape = baseShape.ToArray();
            shape[a] = s;
            var n = shape.Aggregate(1, (p, d) => p * d);
            return HostTensor.FromArray(Enumerable.Range(1000 * k, n).Select(v => (float)v).ToArray(), shape);
        }).ToArray();
        var y = OpHarness.Run(new ConcatOp(axis), parts);
        var outShape = baseShape.ToArray();
        outShape[a] = sizes.Sum();
        Assert.Equal(outShape, y.Shape.ToArray());

        // Reference: each output element comes from the part whose range along the axis holds its coordinate.
        var got = y.ToFloatArray();
        var index = new int[3];
        for (int flat = 0; flat < got.Length; flat++)
        {
            int rest = flat;
            for (int i = 2; i >= 0; i--) { index[i] = rest % outShape[i]; rest /= outShape[i]; }
            int k = 0, along = index[a];
            while (along >= sizes[k]) along -= sizes[k++];
            var partShape = parts[k].Shape;
            var local = index.ToArray();
            local[a] = along;
            Assert.Equal(parts[k].ToFloatArray()[(local[0] * partShape[1] + local[1]) * partShape[2] + local[2]], got[flat]);
        }
    }

    [Fact]
    public void ConcatCopiesAnyDtypeAndSingleInputs()
    {
        var a = HostTensor.FromArray(new byte[] { 1, 2, 3, 4 }, 2, 2);
        var b = HostTensor.FromArray(new byte[] { 9, 8 }, 2, 1);
        Assert.Equal(new byte[] { 1, 2, 9, 3, 4, 8 }, OpHarness.Run(new ConcatOp(1), a, b).AsSpan<byte>().ToArray());
        var l = HostTensor.FromArray([1L << 40, 2L], 1, 2);
        Assert.Equal([1L << 40, 2L, 1L << 40, 2L], OpHarness.Run(new ConcatOp(0), l, l).AsSpan<long>().ToArray());
        var single = OpHarness.Random(new Random(30), [3, 7]);
        Assert.Equal(single.ToFloatArray(), OpHarness.Run(new ConcatOp(0), single).ToFloatArray());
    }
}
