using PixelLLM.Cli.Evaluation;

namespace PixelLLM.Tests.Evaluation;

/// <summary>eval.py's geometry on constructed inputs: box IoU, point-in-box / point-in-mask hits, mask IoU, bilinear resize.</summary>
public sealed class EvalMathTests
{
    [Fact]
    public void BoxIouFollowsEvalPyIncludingItsClamps()
    {
        var a = new Box(0, 0, 2, 2);
        Assert.Equal(1.0, EvalMath.BoxIou(a, a), 12);
        Assert.Equal(1.0 / 3, EvalMath.BoxIou(a, new Box(1, 0, 3, 2)), 12);
        Assert.Equal(0.0, EvalMath.BoxIou(a, new Box(2, 0, 4, 2)));          // touching edges
        Assert.Equal(0.0, EvalMath.BoxIou(a, new Box(5, 5, 6, 6)));          // disjoint
        Assert.Equal(0.0, EvalMath.BoxIou(new Box(1, 1, 1, 1), new Box(1, 1, 1, 1))); // both empty: 0 / 1e-6
        // An inverted box has area 0 and no intersection.
        Assert.Equal(0.0, EvalMath.BoxIou(new Box(2, 2, 0, 0), a));
    }

    [Fact]
    public void PointInBoxIncludesTheEdges()
    {
        var box = new Box(10, 20, 30, 40);
        Assert.True(EvalMath.InBox(new TracePoint(10, 20), box));
        Assert.True(EvalMath.InBox(new TracePoint(30, 40), box));
        Assert.False(EvalMath.InBox(new TracePoint(30.01f, 25), box));
        Assert.False(EvalMath.InBox(new TracePoint(15, 19.99f), box));
    }

    [Fact]
    public void PointInMaskFloorsToThePixelAndMissesOutsideTheImage()
    {
        // 3 wide, 2 high: only pixel (2, 0) set.
        var mask = new[] { false, false, true, false, false, false };
        Assert.True(EvalMath.InMask(new TracePoint(2.99f, 0.5f), mask, 3, 2));
        Assert.True(EvalMath.InMask(new TracePoint(2f, 0f), mask, 3, 2));
        Assert.False(EvalMath.InMask(new TracePoint(1.99f, 0.5f), mask, 3, 2));
        Assert.False(EvalMath.InMask(new TracePoint(2.5f, 1.0f), mask, 3, 2));
        Assert.False(EvalMath.InMask(new TracePoint(3.0f, 0.5f), mask, 3, 2));   // x = width
        Assert.False(EvalMath.InMask(new TracePoint(-0.01f, 0.5f), mask, 3, 2)); // floor → −1
        Assert.False(EvalMath.InMask(new TracePoint(float.NaN, 0.5f), mask, 3, 2));
    }

    [Fact]
    public void CentreIsTheMeanOfThePoints()
    {
        Assert.Equal(new TracePoint(2, 5), EvalMath.Centre([new TracePoint(1, 10), new TracePoint(3, 0)]));
        Assert.Throws<ArgumentException>(() => EvalMath.Centre([]));
    }

    [Fact]
    public void MaskIouCountsEmptyAgainstEmptyAsPerfectAndEmptyAgainstAnythingAsZero()
    {
        var empty = new bool[4];
        var some = new[] { true, true, false, false };
        var other = new[] { false, true, true, false };
        Assert.Equal((0L, 0L), EvalMath.Overlap(empty, empty));
        Assert.Equal(1.0, EvalMath.MaskIou(0, 0));
        var (i, u) = EvalMath.Overlap(empty, some);
        Assert.Equal(0.0, EvalMath.MaskIou(i, u));
        Assert.Equal((1L, 3L), EvalMath.Overlap(some, other));
        Assert.Throws<ArgumentException>(() => EvalMath.Overlap(some, new bool[3]));
    }

    [Fact]
    public void MeanAndCumulativeIouAreAccumulatedSeparately()
    {
        var m = new EvalMetrics();
        Assert.Null(EvalMetrics.Mean(m.MaskIou));
        Assert.Null(m.CumulativeMaskIou);
        m.AddMask(1, 2);
        m.AddMask(3, 4);
        m.AddMask(0, 0); // both empty: 1 in the mean, nothing in the sums
        Assert.Equal((0.5 + 0.75 + 1) / 3, EvalMetrics.Mean(m.MaskIou)!.Value, 12);
        Assert.Equal(4.0 / 6, m.CumulativeMaskIou!.Value, 12);
        Assert.Equal(2.0 / 3, EvalMetrics.Mean(new List<bool> { true, false, true }));
        Assert.Null(EvalMetrics.Mean(new List<bool>()));
    }

    [Fact]
    public void ResizeMatchesTorchBilinearWithoutAlignCorners()
    {
        // torch: F.interpolate(arange(15).reshape(1,1,3,5) ** 1.5 − 7, size=(7, 4), mode="bilinear", align_corners=False)
        float[][] torch =
        [
            [-6.875f, -5.31434f, -2.69174f, 0.64952f], [-5.23287f, -3.25076f, -0.29475f, 3.33579f],
            [-0.30648f, 2.93996f, 6.89624f, 11.39461f], [4.61992f, 9.13068f, 14.08723f, 19.45343f],
            [13.45293f, 18.6705f, 24.28566f, 30.27096f], [22.28595f, 28.21031f, 34.48408f, 41.08848f],
            [25.23029f, 31.39025f, 37.88356f, 44.69432f],
        ];
        var source = Enumerable.Range(0, 15).Select(v => (float)Math.Pow(v, 1.5) - 7).ToArray();
        var resized = EvalMath.ResizeBilinear(source, 3, 5, 7, 4);
        for (int y = 0; y < 7; y++)
            for (int x = 0; x < 4; x++) Assert.Equal(torch[y][x], resized[y * 4 + x], 4);
    }

    [Theory]
    [InlineData(5, 3, 2, 7)]
    [InlineData(7, 11, 13, 5)]
    [InlineData(4, 4, 4, 4)]
    [InlineData(1, 9, 3, 1)]
    public void ResizeMatchesAFloat64ReferenceOnOddShapes(int height, int width, int outHeight, int outWidth)
    {
        var random = new Random(height * 1000 + width * 100 + outHeight * 10 + outWidth);
        var source = Enumerable.Range(0, height * width).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var resized = EvalMath.ResizeBilinear(source, height, width, outHeight, outWidth);
        for (int y = 0; y < outHeight; y++)
            for (int x = 0; x < outWidth; x++) Assert.Equal(Reference(source, height, width, outHeight, outWidth, y, x), resized[y * outWidth + x], 5);
    }

    /// <summary>Half-pixel bilinear in float64: sample at (o + ½)·in/out − ½, clamped into the image, weights from the distance.</summary>
    private static double Reference(float[] source, int height, int width, int outHeight, int outWidth, int y, int x)
    {
        static (int, int, double) Tap(int o, int inSize, int outSize)
        {
            double p = Math.Clamp((o + 0.5) * inSize / outSize - 0.5, 0, inSize - 1);
            int lo = (int)Math.Floor(p);
            return (lo, Math.Min(lo + 1, inSize - 1), p - lo);
        }
        var (y0, y1, fy) = Tap(y, height, outHeight);
        var (x0, x1, fx) = Tap(x, width, outWidth);
        double At(int r, int c) => source[r * width + c];
        return (1 - fy) * ((1 - fx) * At(y0, x0) + fx * At(y0, x1)) + fy * ((1 - fx) * At(y1, x0) + fx * At(y1, x1));
    }
}
