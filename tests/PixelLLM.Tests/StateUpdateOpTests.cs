using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

/// <summary>
/// WriteAt and ReorderRows against naive references (both only move values, so results must be exact), and QkvProjection
/// against the ops it fuses.
/// </summary>
public class StateUpdateOpTests
{
    private static HostTensor Position(int p) => HostTensor.FromArray(new[] { p }, 1);

    /// <summary>Reference: walk every element of x; those inside the window along axis come from values.</summary>
    private static double[] WriteAtRef(double[] x, int[] shape, double[] values, int axis, int position, int count)
    {
        var y = (double[])x.Clone();
        int inner = shape.Skip(axis + 1).Aggregate(1, (a, b) => a * b), size = shape[axis];
        for (int flat = 0; flat < x.Length; flat++)
        {
            int along = flat / inner % size, outer = flat / inner / size, rest = flat % inner;
            if (along >= position && along < position + count)
                y[flat] = values[(outer * count + along - position) * inner + rest];
        }
        return y;
    }

    [Theory]
    [InlineData(new[] { 3, 7, 5 }, 1, 2, 4)]
    [InlineData(new[] { 3, 7, 5 }, 1, 1, 0)]
    [InlineData(new[] { 3, 7, 5 }, 1, 7, 0)]
    [InlineData(new[] { 5, 3 }, 0, 2, 3)]
    [InlineData(new[] { 2, 3, 9 }, -1, 3, 6)]
    [InlineData(new[] { 11 }, 0, 4, 5)]
    public void WriteAtReplacesExactlyTheWindow(int[] shape, int axis, int count, int position)
    {
        var rng = new Random(shape.Sum() + axis + count);
        int a = axis < 0 ? axis + shape.Length : axis;
        var valueShape = (int[])shape.Clone();
        valueShape[a] = count;
        var x = OpHarness.Random(rng, shape);
        var values = OpHarness.Random(rng, valueShape);
        var y = OpHarness.Run(new WriteAtOp(axis), x, values, Position(position));
        var expected = WriteAtRef(OpHarness.AsDoubles(x), shape, OpHarness.AsDoubles(values), a, position, count);
        Assert.Equal(expected, OpHarness.AsDoubles(y));
    }

    [Fact]
    public void WriteAtMovesIntegerAndByteTensors()
    {
        var x = HostTensor.FromArray(Enumerable.Range(0, 12).Select(i => (byte)i).ToArray(), 3, 4);
        var values = HostTensor.FromArray(new byte[] { 200, 201, 202 }, 3, 1);
        var y = OpHarness.Run(new WriteAtOp(1), x, values, Position(2)).AsSpan<byte>().ToArray();
        Assert.Equal(new byte[] { 0, 1, 200, 3, 4, 5, 201, 7, 8, 9, 202, 11 }, y);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(6)]
    [InlineData(100)]
    public void WriteAtOutOfRangePositionIsInvalidInput(int position)
    {
        var rng = new Random(1);
        var ex = Assert.Throws<InvalidInputException>(() =>
            OpHarness.Run(new WriteAtOp(1), OpHarness.Random(rng, [2, 7, 3]), OpHarness.Random(rng, [2, 2, 3]), Position(position)));
        Assert.Contains("WriteAt", ex.Message);
    }

    [Fact]
    public void WriteAtRejectsMisfitValuesAndWeights()
    {
        var g = new Graph();
        var x = g.Input("x", DType.F32, 2, 7, 3);
        var pos = g.Input("p", DType.I32, 1);
        Assert.Throws<GraphBuildException>(() => g.WriteAt(x, g.Input("wide", DType.F32, 2, 8, 3), pos, 1));
        Assert.Throws<GraphBuildException>(() => g.WriteAt(x, g.Input("other", DType.F32, 2, 1, 4), pos, 1));
        Assert.Throws<GraphBuildException>(() => g.WriteAt(x, g.Input("i32", DType.I32, 2, 1, 3), pos, 1));
        Assert.Throws<GraphBuildException>(() => g.WriteAt(x, g.Input("ok", DType.F32, 2, 1, 3), g.Input("p2", DType.I32, 2), 1));
        var w = g.Weight("w", HostTensor.Zeros(DType.F32, 2, 7, 3));
        Assert.Throws<GraphBuildException>(() => g.WriteAt(g.Reshape(w, 14, 3), g.Input("row", DType.F32, 1, 3), pos, 0));
    }

    [Theory]
    [InlineData(new[] { 4, 1, 2, 2, 0 })]
    [InlineData(new[] { 0, 1, 2, 3, 4 })]
    [InlineData(new[] { 3, 3, 3, 3, 3 })]
    [InlineData(new[] { 1, 0, 4, 2, 3 })]
    public void ReorderRowsGathersRows(int[] rows)
    {
        var rng = new Random(rows.Sum());
        int[] shape = [rows.Length, 3, 7];
        var x = OpHarness.Random(rng, shape);
        var y = OpHarness.AsDoubles(OpHarness.Run(new ReorderRowsOp(), x, HostTensor.FromArray(rows, rows.Length)));
        var xs = OpHarness.AsDoubles(x);
        int row = 21;
        for (int r = 0; r < rows.Length; r++)
            for (int i = 0; i < row; i++)
                Assert.Equal(xs[rows[r] * row + i], y[r * row + i]);
    }

    /// <summary>Several tensors by the same rows in one op: each equals its own single-tensor reorder, bit for bit.</summary>
    [Theory]
    [InlineData(new[] { 4, 1, 2, 2, 0 })]
    [InlineData(new[] { 3, 3, 3, 3, 3 })]
    [InlineData(new[] { 0, 1, 2, 3, 4 })]
    public void ReorderRowsOfSeveralTensorsEqualsEachReorderedAlone(int[] rows)
    {
        var rng = new Random(rows.Sum() + 17);
        var tensors = Enumerable.Range(0, 3).Select(_ => OpHarness.Random(rng, [rows.Length, 2, 5])).ToArray();
        var order = HostTensor.FromArray(rows, rows.Length);
        HostTensor[] inputs = [tensors[0], order, tensors[1], tensors[2]];
        var c = new OpCheckCase("many", new ReorderRowsOp(3), inputs.Select(t => t.Desc).ToArray());
        using var cpu = new CpuBackend();
        var all = BackendCheck.RunWithUpdates(cpu, c, inputs); // x_0 returned, then x_1 and x_2 updated
        Assert.Equal(3, all.Length);
        for (int i = 0; i < 3; i++)
            Assert.Equal(OpHarness.Run(new ReorderRowsOp(), tensors[i], order).ToFloatArray(), all[i].ToFloatArray());
        var e = Assert.Throws<InvalidInputException>(() =>
            BackendCheck.RunWithUpdates(cpu, c, [tensors[0], HostTensor.FromArray(new[] { 0, 5, 1, 2, 3 }, 5), tensors[1], tensors[2]]));
        Assert.Contains("outside", e.Message);
        var g = new Graph();
        var x = g.Input("x", DType.F32, 5, 2);
        Assert.Throws<GraphBuildException>(() => g.ReorderRows([x, g.Input("y", DType.F32, 5, 3)], g.Input("r", DType.I32, 5)));
    }

    /// <summary>
    /// With a valid prefix only each row's first limit entries along axis 1 move (every cache by the same rows, against the
    /// float64 gather); the rest of every row keeps its own values, a limit beyond the axis moves whole rows, a negative
    /// one nothing, and a bad index is refused even when nothing would move.
    /// </summary>
    [Theory]
    [InlineData(new[] { 4, 1, 2, 2, 0 }, 3)]
    [InlineData(new[] { 3, 3, 3, 3, 3 }, 1)]
    [InlineData(new[] { 1, 0, 4, 2, 3 }, 0)]
    [InlineData(new[] { 1, 0, 4, 2, 3 }, 7)]
    [InlineData(new[] { 2, 2, 0, 4, 1 }, 9)]
    [InlineData(new[] { 2, 2, 0, 4, 1 }, -2)]
    public void ReorderRowsWithAValidPrefixMovesOnlyIt(int[] rows, int limit)
    {
        const int slots = 7, width = 3;
        var rng = new Random(rows.Sum() * 31 + limit);
        var tensors = Enumerable.Range(0, 2).Select(_ => OpHarness.Random(rng, [rows.Length, slots, width])).ToArray();
        HostTensor[] inputs = [tensors[0], HostTensor.FromArray(rows, rows.Length), tensors[1], HostTensor.FromArray(new[] { limit }, 1)];
        var c = new OpCheckCase("prefix", new ReorderRowsOp(2, ValidPrefix: true), inputs.Select(t => t.Desc).ToArray());
        using var cpu = new CpuBackend();
        var all = BackendCheck.RunWithUpdates(cpu, c, inputs);
        int moved = Math.Clamp(limit, 0, slots) * width, row = slots * width;
        for (int t = 0; t < 2; t++)
        {
            var (x, y) = (OpHarness.AsDoubles(tensors[t]), OpHarness.AsDoubles(all[t]));
            for (int r = 0; r < rows.Length; r++)
                for (int i = 0; i < row; i++)
                    Assert.Equal(x[(i < moved ? rows[r] : r) * row + i], y[r * row + i]);
        }
        var bad = HostTensor.FromArray(new[] { 0, 5, 1, 2, 3 }, 5);
        Assert.Throws<InvalidInputException>(() => BackendCheck.RunWithUpdates(cpu, c, [tensors[0], bad, tensors[1], inputs[3]]));
        var g = new Graph();
        Assert.Throws<GraphBuildException>(() =>
            g.ReorderRows([g.Input("v", DType.F32, 5)], g.Input("r", DType.I32, 5), g.Input("n", DType.I32, 1)));
        Assert.Throws<GraphBuildException>(() =>
            g.ReorderRows([g.Input("w", DType.F32, 5, 2)], g.Input("s", DType.I32, 5), g.Input("m", DType.F32, 1)));
    }

    [Fact]
    public void ReorderRowsOutOfRangeIsInvalidInput()
    {
        var rng = new Random(2);
        Assert.Throws<InvalidInputException>(() =>
            OpHarness.Run(new ReorderRowsOp(), OpHarness.Random(rng, [3, 2]), HostTensor.FromArray(new[] { 0, 3, 1 }, 3)));
        Assert.Throws<InvalidInputException>(() =>
            OpHarness.Run(new ReorderRowsOp(), OpHarness.Random(rng, [3, 2]), HostTensor.FromArray(new[] { -1, 0, 1 }, 3)));
        var g = new Graph();
        Assert.Throws<GraphBuildException>(() => g.ReorderRows(g.Input("x", DType.F32, 3, 2), g.Input("r", DType.I32, 2)));
    }

    /// <summary>
    /// QkvProjection is RmsNormLinear three times and WriteAt for k and v in one op: bit-equal to those ops apart (one row,
    /// a wide beam, odd widths), the caches' other slots untouched, and a slot outside the caches refused before either
    /// cache is written.
    /// </summary>
    [Theory]
    [InlineData(1, 6, 33, 40, 0)]
    [InlineData(4, 9, 19, 27, 8)]
    [InlineData(12, 5, 33, 40, 2)]
    public void QkvProjectionEqualsThreeRmsNormLinearsAndTwoWriteAts(int rows, int slots, int outFeatures, int inFeatures, int position)
    {
        var rng = new Random(rows * 100 + slots + position);
        var x = OpHarness.Random(rng, [rows, 1, inFeatures], 3f);
        var g = OpHarness.Random(rng, [inFeatures]);
        var (wq, wk, wv) = (OpHarness.Random(rng, [outFeatures, inFeatures]), OpHarness.Random(rng, [outFeatures, inFeatures]),
            OpHarness.Random(rng, [outFeatures, inFeatures]));
        var (keys, values) = (OpHarness.Random(rng, [rows, slots, outFeatures]), OpHarness.Random(rng, [rows, slots, outFeatures]));

        var (q, updated) = RunQkv(x, g, wq, wk, wv, keys, values, position);

        var rmsNormLinear = new RmsNormLinearOp(1e-6f);
        Assert.Equal(OpHarness.Run(rmsNormLinear, x, g, wq).ToFloatArray(), q.ToFloatArray());
        Assert.Equal(OpHarness.Run(new WriteAtOp(1), keys, OpHarness.Run(rmsNormLinear, x, g, wk), Position(position)).ToFloatArray(), updated[0].ToFloatArray());
        Assert.Equal(OpHarness.Run(new WriteAtOp(1), values, OpHarness.Run(rmsNormLinear, x, g, wv), Position(position)).ToFloatArray(), updated[1].ToFloatArray());

        var e = Assert.Throws<InvalidInputException>(() => RunQkv(x, g, wq, wk, wv, keys, values, slots));
        Assert.Contains("position", e.Message);
    }

    /// <summary>GIT's form (no norm, a bias per projection) is bit-equal to three biased Linears and two WriteAts.</summary>
    [Theory]
    [InlineData(1, 5, 7, 25, 4)]
    [InlineData(3, 9, 16, 24, 0)]
    [InlineData(10, 4, 12, 20, 3)]
    public void QkvProjectionWithBiasesEqualsThreeLinearsAndTwoWriteAts(int rows, int slots, int outFeatures, int inFeatures, int position)
    {
        var rng = new Random(rows * 7 + slots + position);
        var x = OpHarness.Random(rng, [rows, 1, inFeatures], 3f);
        var w = Enumerable.Range(0, 3).Select(_ => OpHarness.Random(rng, [outFeatures, inFeatures])).ToArray();
        var b = Enumerable.Range(0, 3).Select(_ => OpHarness.Random(rng, [outFeatures])).ToArray();
        var (keys, values) = (OpHarness.Random(rng, [rows, slots, outFeatures]), OpHarness.Random(rng, [rows, slots, outFeatures]));
        HostTensor[] inputs = [x, w[0], w[1], w[2], keys, values, Position(position), b[0], b[1], b[2]];
        var c = new OpCheckCase("git qkv", new QkvProjectionOp(0f, HasNorm: false, HasBias: true), inputs.Select(t => t.Desc).ToArray());
        using var cpu = new CpuBackend();
        var all = BackendCheck.RunWithUpdates(cpu, c, inputs);

        var linear = new LinearOp(true);
        Assert.Equal(OpHarness.Run(linear, x, w[0], b[0]).ToFloatArray(), all[0].ToFloatArray());
        Assert.Equal(OpHarness.Run(new WriteAtOp(1), keys, OpHarness.Run(linear, x, w[1], b[1]), Position(position)).ToFloatArray(), all[1].ToFloatArray());
        Assert.Equal(OpHarness.Run(new WriteAtOp(1), values, OpHarness.Run(linear, x, w[2], b[2]), Position(position)).ToFloatArray(), all[2].ToFloatArray());
    }

    [Fact]
    public void QkvProjectionRejectsCachesOfAnotherShapeAndUnequalWeights()
    {
        var graph = new Graph();
        Tensor F(params int[] shape) => graph.Input($"t{graph.Tensors.Count}", DType.F32, shape);
        var (x, g, w, position) = (F(2, 1, 8), F(8), F(6, 8), graph.Input("p", DType.I32, 1));
        Assert.Throws<GraphBuildException>(() => graph.QkvProjection(x, g, 1e-6f, w, w, w, F(2, 4, 6), F(2, 5, 6), position));
        Assert.Throws<GraphBuildException>(() => graph.QkvProjection(x, g, 1e-6f, w, F(5, 8), w, F(2, 4, 6), F(2, 4, 6), position));
        Assert.Throws<GraphBuildException>(() => graph.QkvProjection(x, g, 1e-6f, w, w, w, F(3, 4, 6), F(3, 4, 6), position));
        var cache = F(2, 4, 6);
        var e = Assert.Throws<GraphBuildException>(() => graph.QkvProjection(x, g, 1e-6f, w, w, w, cache, cache, position));
        Assert.Contains("shares its storage", e.Message);
        var weight = graph.Weight("w.cache", HostTensor.FromArray(new float[48], 2, 4, 6));
        e = Assert.Throws<GraphBuildException>(() => graph.QkvProjection(x, g, 1e-6f, w, w, w, weight, F(2, 4, 6), position));
        Assert.Contains("weight", e.Message);
    }

    /// <summary>One QkvProjection node on the CPU: q, then the key and value caches after the run.</summary>
    private static (HostTensor Q, HostTensor[] Caches) RunQkv(HostTensor x, HostTensor g, HostTensor wq, HostTensor wk, HostTensor wv,
        HostTensor keys, HostTensor values, int position)
    {
        HostTensor[] inputs = [x, wq, wk, wv, keys, values, Position(position), g];
        var c = new OpCheckCase("qkv", new QkvProjectionOp(1e-6f), inputs.Select(t => t.Desc).ToArray());
        using var cpu = new CpuBackend();
        var all = BackendCheck.RunWithUpdates(cpu, c, inputs);
        return (all[0], all[1..]);
    }
}
