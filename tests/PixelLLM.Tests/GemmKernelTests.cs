using PixelLLM.Backends.Cpu;

namespace PixelLLM.Tests;

/// <summary>
/// Runs the GEMM driver with every micro-kernel the machine supports (the op path only uses the widest one),
/// over the packed, streamed-B and dot-product paths, with bias and alpha.
/// </summary>
public unsafe class GemmKernelTests
{
    public static TheoryData<int, int, int, bool, bool> Cases() => new()
    {
        { 41, 29, 300, false, false },   // packed, two K blocks
        { 41, 29, 300, true, true },
        { 100, 77, 65, false, true },    // packed from a transposed B (Linear layout)
        { 5, 83, 47, false, false },     // few rows: A read in place, ragged strip
        { 3, 45, 470, true, false },
        { 6, 40, 90, false, true },      // few rows, K-contiguous B: dot-product tiles
        { 7, 9, 37, true, true },
        { 50, 2, 33, true, false },      // few columns
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryIsaMatchesReference(int m, int n, int k, bool transA, bool transB)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        float[] a = Values(rng, m * k), b = Values(rng, k * n), bias = Values(rng, n);
        const float alpha = 0.625f;
        var expected = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (double)(transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                expected[i * n + j] = alpha * sum + bias[j];
            }

        foreach (var isa in Enum.GetValues<GemmIsa>().Where(GemmKernel.IsSupported))
        {
            var c = new float[m * n];
            fixed (float* pa = a, pb = b, pc = c, pbias = bias)
            {
                var av = transA ? MatrixView.Transposed(pa, m) : MatrixView.RowMajor(pa, k);
                var bv = transB ? MatrixView.Transposed(pb, k) : MatrixView.RowMajor(pb, n);
                GemmDriver.Run(new GemmProblem(m, n, k, av, bv, pc, n, alpha, pbias), allowParallel: true, isa);
            }
            Support.OpHarness.AssertClose(expected, c, what: $"{isa}");
        }
    }

    /// <summary>
    /// The float64-accumulating path: the same cases must land within one float rounding of the float64 reference
    /// (half an ulp plus a sliver), far tighter than the float32 kernels can promise after 300 products.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64AccumulationIsRoundedOnce(int m, int n, int k, bool transA, bool transB)
    {
        var rng = new Random(m * 7 + n * 3 + k);
        float[] a = Values(rng, m * k), b = Values(rng, k * n), bias = Values(rng, n);
        const float alpha = 0.625f;
        var c = new float[m * n];
        fixed (float* pa = a, pb = b, pc = c, pbias = bias)
        {
            var av = transA ? MatrixView.Transposed(pa, m) : MatrixView.RowMajor(pa, k);
            var bv = transB ? MatrixView.Transposed(pb, k) : MatrixView.RowMajor(pb, n);
            GemmDriver.Run(new GemmProblem(m, n, k, av, bv, pc, n, alpha, pbias) { Float64 = true }, allowParallel: true);
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (double)(transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                double expected = alpha * sum + bias[j];
                Assert.True(Math.Abs(c[i * n + j] - expected) <= 0.6 * ulp(expected) + 1e-12,
                    $"C[{i},{j}] = {c[i * n + j]:R}, float64 reference {expected:R}");
            }

        static double ulp(double v) => MathF.BitIncrement((float)Math.Abs(v)) - (double)(float)Math.Abs(v);
    }

    [Theory]
    [InlineData(576, 1280, 2)]
    [InlineData(4096, 3840, 16)]
    [InlineData(37, 19, 6)]
    [InlineData(1, 2048, 7)]
    [InlineData(5, 3, 4)]
    public void ThreadGridCoversOutputExactlyOnce(int m, int n, int threads)
    {
        var grid = ThreadGrid.For(m, n, threads, GemmKernel.MR, 32);
        Assert.InRange(grid.Count, 1, threads);
        var hits = new int[m * n];
        for (int b = 0; b < grid.Count; b++)
        {
            var (r0, rows, c0, cols) = grid.Block(b);
            Assert.True(rows > 0 && cols > 0, $"block {b} is empty");
            Assert.True(r0 % GemmKernel.MR == 0 && c0 % 32 == 0, $"block {b} is not tile-aligned");
            for (int i = r0; i < r0 + rows; i++)
                for (int j = c0; j < c0 + cols; j++) hits[i * n + j]++;
        }
        Assert.All(hits, h => Assert.Equal(1, h));
        if (m >= 4096) Assert.Equal(threads, grid.Count); // big problems use every core, as a 2-D split (4×4)
    }

    private static float[] Values(Random rng, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
}
