using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class AttentionTests
{
    private const float T5MaskBias = -1e10f;

    /// <summary>The problem a test poses, with a naive float64 evaluation of the op's contract.</summary>
    private sealed record Case(int B, int H, int Lq, int Lk, int D, int Dv, float Scale = 0.37f,
        int[]? BiasShape = null, int[]? MaskShape = null, bool Causal = false, float MaskBias = float.NegativeInfinity)
    {
        public HostTensor Q = null!, K = null!, V = null!;
        public HostTensor? Bias, Mask;

        public Case Fill(int seed, Action<byte[]>? editMask = null)
        {
            var rng = new Random(seed);
            Q = OpHarness.Random(rng, [B, Lq, H * D]);
            K = OpHarness.Random(rng, [B, Lk, H * D]);
            V = OpHarness.Random(rng, [B, Lk, H * Dv]);
            if (BiasShape is not null) Bias = OpHarness.Random(rng, BiasShape, 2f);
            if (MaskShape is not null)
            {
                var m = new byte[MaskShape.Aggregate(1, (a, d) => a * d)];
                for (int i = 0; i < m.Length; i++) m[i] = (byte)(rng.NextDouble() < 0.7 ? 1 + rng.Next(3) : 0);
                editMask?.Invoke(m);
                Mask = HostTensor.FromArray(m, MaskShape);
            }
            return this;
        }

        public HostTensor Run()
        {
            var op = new AttentionOp(H, Scale, Bias is not null, Mask is not null, Causal, MaskBias);
            var inputs = new List<HostTensor> { Q, K, V };
            if (Bias is not null) inputs.Add(Bias);
            if (Mask is not null) inputs.Add(Mask);
            return OpHarness.Run(op, [.. inputs]);
        }

        public double[] Reference()
        {
            var (q, k, v) = (OpHarness.AsDoubles(Q), OpHarness.AsDoubles(K), OpHarness.AsDoubles(V));
            var bias = Bias is null ? null : OpHarness.AsDoubles(Bias);
            var mask = Mask?.AsSpan<byte>().ToArray();
            var y = new double[B * Lq * H * Dv];
            var s = new double[Lk];
            for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
            for (int i = 0; i < Lq; i++)
            {
                for (int j = 0; j < Lk; j++)
                {
                    double dot = 0;
                    for (int c = 0; c < D; c++) dot += q[((b * Lq + i) * H + h) * D + c] * k[((b * Lk + j) * H + h) * D + c];
                    s[j] = Scale * dot;
                    if (bias is not null) s[j] += bias[Index(BiasShape!, b, h, i, j)];
                    bool hidden = (mask is not null && mask[Index(MaskShape!, b, 0, i, j)] == 0) || (Causal && j > i + (Lk - Lq));
                    // The contract adds MaskBias in fp32: for −1e10 the sum rounds to exactly −1e10 (|s| ≪ 512).
                    if (hidden) s[j] = (float)s[j] + MaskBias;
                }
                double max = s.Max(), sum = 0; // an all −∞ row: (−∞) − (−∞) = NaN, as in PyTorch
                for (int j = 0; j < Lk; j++) sum += s[j] = Math.Exp(s[j] - max);
                for (int c = 0; c < Dv; c++)
                {
                    double acc = 0;
                    for (int j = 0; j < Lk; j++) acc += s[j] * v[((b * Lk + j) * H + h) * Dv + c];
                    y[((b * Lq + i) * H + h) * Dv + c] = acc / sum;
                }
            }
            return y;
        }

        /// <summary>Flat index of (b, h, i, j) in a rank-4 operand broadcast to (B, H, Lq, Lk).</summary>
        private static int Index(int[] shape, int b, int h, int i, int j)
        {
            int[] at = [b, h, i, j];
            int index = 0;
            for (int d = 0; d < 4; d++) index = index * shape[d] + (shape[d] == 1 ? 0 : at[d]);
            return index;
        }
    }

    [Theory]
    [InlineData(2, 3, 7, 11, 5, 6)]     // scalar remainders only
    [InlineData(1, 2, 9, 13, 21, 19)]   // vector chunks plus scalar tails, odd key count
    [InlineData(2, 2, 6, 10, 64, 64)]   // SAM/T5 head size
    [InlineData(1, 3, 5, 8, 80, 80)]    // EVA02 head size: a single trailing vector column
    [InlineData(1, 4, 70, 65, 24, 40)]  // several tiles per head, parallel path
    [InlineData(2, 3, 53, 97, 80, 80)]  // GEMM route (48-query tiles) and a 5-query tail on the grouped path
    [InlineData(1, 2, 61, 33, 64, 48)]  // GEMM route, value width ≠ head dim, tail of 13 queries
    [InlineData(1, 1, 6, 16, 7, 9)]     // the smallest GEMM-route tile, odd widths
    [InlineData(2, 2, 1, 17, 16, 16)]   // decode: one query
    [InlineData(1, 2, 1, 23, 64, 45)]   // decode: four-column, one-column and scalar value passes
    public void MatchesNaiveReference(int b, int h, int lq, int lk, int d, int dv)
    {
        var c = new Case(b, h, lq, lk, d, dv).Fill(seed: lq * 31 + d);
        OpHarness.AssertClose(c.Reference(), c.Run());
    }

    [Theory]
    [InlineData(new[] { 2, 3, 7, 11 })]
    [InlineData(new[] { 1, 3, 7, 11 })]
    [InlineData(new[] { 2, 1, 1, 11 })]
    [InlineData(new[] { 2, 3, 7, 1 })]
    [InlineData(new[] { 1, 1, 7, 11 })]
    public void AddsBroadcastBias(int[] biasShape)
    {
        var c = new Case(2, 3, 7, 11, 5, 6, BiasShape: biasShape).Fill(seed: biasShape.Sum());
        OpHarness.AssertClose(c.Reference(), c.Run());
    }

    [Theory]
    [InlineData(new[] { 2, 1, 7, 11 })]
    [InlineData(new[] { 2, 1, 1, 11 })]
    [InlineData(new[] { 1, 1, 7, 11 })]
    public void AddsBroadcastMask(int[] maskShape)
    {
        var c = new Case(2, 3, 7, 11, 5, 6, MaskShape: maskShape).Fill(seed: maskShape.Sum(), m => m[0] = 1);
        OpHarness.AssertClose(c.Reference(), c.Run());
    }

    [Fact]
    public void FullyMaskedRowWithFiniteBiasAveragesValues()
    {
        // Row i = 3 of batch 1 is fully masked: fp32 turns every masked score into exactly −1e10, so the row is uniform.
        var c = new Case(2, 3, 7, 11, 5, 6, BiasShape: [1, 3, 7, 11], MaskShape: [2, 1, 7, 11], MaskBias: T5MaskBias)
            .Fill(seed: 5, m => Array.Clear(m, (7 + 3) * 11, 11));
        var y = c.Run();
        OpHarness.AssertClose(c.Reference(), y);
        var v = OpHarness.AsDoubles(c.V);
        var got = y.ToFloatArray();
        for (int h = 0; h < 3; h++)
        for (int ch = 0; ch < 6; ch++)
        {
            double mean = 0;
            for (int j = 0; j < 11; j++) mean += v[((11 + j) * 3 + h) * 6 + ch] / 11;
            Assert.Equal(mean, got[((7 + 3) * 3 + h) * 6 + ch], 1e-5);
        }
    }

    /// <summary>
    /// One query per row (a decode step) over a long cache whose tail the mask hides: the CPU reads only the keys before
    /// the hidden tail (their weights are exactly 0). Tails of every length, none, and a fully hidden row (T5's uniform
    /// average, which needs every key) all match the reference.
    /// </summary>
    [Theory]
    [InlineData(T5MaskBias)]
    [InlineData(float.NegativeInfinity)]
    public void OneQueryOverAMaskedTailMatchesTheReference(float maskBias)
    {
        int[] visible = [5, 17, 40, 1, 0, 39];
        var c = new Case(visible.Length, 4, 1, 40, 16, 12, BiasShape: [1, 4, 1, 40], MaskShape: [visible.Length, 1, 1, 40], MaskBias: maskBias)
            .Fill(seed: 11, m =>
            {
                for (int b = 0; b < visible.Length; b++)
                    for (int j = 0; j < 40; j++) m[b * 40 + j] = (byte)(j < visible[b] ? (j % 7 == 3 ? 0 : 1) : 0);
                m[0] = 1; m[40] = 1; m[2 * 40] = 1; m[3 * 40] = 1; m[5 * 40] = 1;   // every row but b = 4 sees a key
            });
        var got = c.Run().ToFloatArray();
        var want = c.Reference();
        if (float.IsNegativeInfinity(maskBias))
        {
            // The fully hidden row is NaN for −∞ (as in PyTorch); every other row is a number.
            int width = 4 * 12;
            Assert.All(got.Skip(4 * width).Take(width), g => Assert.True(float.IsNaN(g)));
            got = [.. got[..(4 * width)], .. got[(5 * width)..]];
            want = [.. want[..(4 * width)], .. want[(5 * width)..]];
        }
        OpHarness.AssertClose(want, got);
    }

    [Fact]
    public void FullyMaskedRowWithInfiniteBiasIsNaN()
    {
        var c = new Case(2, 3, 7, 11, 5, 6, MaskShape: [2, 1, 7, 11]).Fill(seed: 6, m =>
        {
            Array.Clear(m, (7 + 3) * 11, 11);
            for (int row = 0; row < 14; row++) if (row != 10) m[row * 11] = 1; // every other row keeps a key
        });
        var got = c.Run().ToFloatArray();
        OpHarness.AssertClose(c.Reference(), got);
        for (int i = 0; i < 7; i++)
        for (int e = 0; e < 18; e++)
            Assert.Equal(i == 3, float.IsNaN(got[(7 + i) * 18 + e]));
        Assert.DoesNotContain(got[..(7 * 18)], float.IsNaN);
    }

    [Theory]
    [InlineData(4, 11, float.NegativeInfinity)]
    [InlineData(1, 11, float.NegativeInfinity)]
    [InlineData(11, 11, T5MaskBias)]
    [InlineData(37, 50, float.NegativeInfinity)]
    public void CausalSeesKeysUpToItsOffsetPosition(int lq, int lk, float maskBias)
    {
        var c = new Case(2, 3, lq, lk, 9, 10, Causal: true, MaskBias: maskBias).Fill(seed: lq + lk);
        OpHarness.AssertClose(c.Reference(), c.Run());
    }

    [Fact]
    public void NoKeysGivesZeros()
    {
        var c = new Case(1, 2, 3, 0, 4, 5).Fill(seed: 1);
        var got = c.Run();
        Assert.Equal(new Shape(1, 3, 10), got.Shape);
        Assert.All(got.ToFloatArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void CausalCombinesWithPaddingMaskAndBias()
    {
        var c = new Case(2, 3, 7, 11, 5, 6, BiasShape: [1, 3, 7, 11], MaskShape: [2, 1, 1, 11], Causal: true, MaskBias: T5MaskBias)
            .Fill(seed: 9, m => { m[0] = 1; m[11] = 1; });
        OpHarness.AssertClose(c.Reference(), c.Run());
    }

    /// <summary>
    /// A decomposed rel-pos bias (Kh + Kw terms per query, SAM) gives bit for bit the scores of the (Lq, Kh·Kw) bias it
    /// stands for, whether the terms are per head or broadcast over heads and batch, on one tile and on several.
    /// </summary>
    [Theory]
    [InlineData(new[] { 2, 3, 7, 9 }, 4, 5, 7)]    // per batch and head; 20 keys
    [InlineData(new[] { 1, 1, 7, 8 }, 3, 5, 7)]    // one set of terms for every batch element and head
    [InlineData(new[] { 2, 3, 1, 9 }, 2, 7, 1)]    // decode: one query
    [InlineData(new[] { 1, 3, 70, 10 }, 6, 4, 70)] // several tiles per head, parallel path
    public void DecomposedBiasEqualsTheBiasItStandsFor(int[] termsShape, int kh, int kw, int lq)
    {
        int lk = kh * kw;
        var c = new Case(2, 3, lq, lk, 8, 6).Fill(seed: lk + lq);
        var terms = OpHarness.Random(new Random(kh * 10 + kw), termsShape, 2f);
        var t = terms.ToFloatArray();
        int rows = termsShape[0] * termsShape[1] * termsShape[2];
        var full = new float[rows * lk];
        for (int r = 0; r < rows; r++)
        for (int m = 0; m < kh; m++)
        for (int n = 0; n < kw; n++)
            full[r * lk + m * kw + n] = t[r * (kh + kw) + m] + t[r * (kh + kw) + kh + n];
        var fullShape = new[] { termsShape[0], termsShape[1], termsShape[2], lk };

        var decomposed = OpHarness.Run(new AttentionOp(3, c.Scale, HasBias: true, BiasKeyGridRows: kh), c.Q, c.K, c.V, terms);
        var materialised = OpHarness.Run(new AttentionOp(3, c.Scale, HasBias: true), c.Q, c.K, c.V, HostTensor.FromArray(full, fullShape));
        Assert.Equal(materialised.ToFloatArray(), decomposed.ToFloatArray());
    }

    [Fact]
    public void ADecomposedBiasMustFitItsKeyGrid()
    {
        var g = new PixelLLM.Runtime.Graphs.Graph();
        var (q, k) = (g.Input("q", DType.F32, 1, 4, 8), g.Input("k", DType.F32, 1, 12, 8));
        Assert.Throws<GraphBuildException>(() => g.Attention(q, k, k, 2, 1f, g.Input("t1", DType.F32, 1, 2, 4, 7), biasKeyGridRows: 5)); // 12 keys, 5 rows
        Assert.Throws<GraphBuildException>(() => g.Attention(q, k, k, 2, 1f, g.Input("t2", DType.F32, 1, 2, 4, 8), biasKeyGridRows: 3)); // 3 + 4 terms, not 8
        Assert.Throws<GraphBuildException>(() => g.Attention(q, k, k, 2, 1f, g.Input("t3", DType.F32, 1, 2, 4, 1), biasKeyGridRows: 3)); // no broadcast of terms
        Assert.Throws<GraphBuildException>(() => g.Attention(q, k, k, 2, 1f, null, biasKeyGridRows: 3));
        Assert.Equal(new Shape(1, 4, 8), g.Attention(q, k, k, 2, 1f, g.Input("t4", DType.F32, 1, 2, 4, 7), biasKeyGridRows: 3).Shape);
    }

    /// <summary>
    /// q | k | v packed side by side in each row (SAM's qkv projection) give bit for bit what the three split operands
    /// give, with and without a decomposed bias, on one tile and on several.
    /// </summary>
    [Theory]
    [InlineData(2, 3, 9, 8, 0)]
    [InlineData(1, 2, 20, 16, 4)]
    [InlineData(2, 4, 70, 8, 7)]
    public void PackedQkvEqualsTheSplitOperands(int batch, int heads, int length, int headDim, int gridRows)
    {
        var rng = new Random(length * 3 + gridRows);
        int width = heads * headDim;
        var qkv = OpHarness.Random(rng, [batch, length, 3 * width]);
        HostTensor Part(int part) => OpHarness.Columns(qkv, part * width, width);
        var bias = gridRows > 0 ? OpHarness.Random(rng, [batch, heads, length, gridRows + length / gridRows]) : null;
        var packedOp = new AttentionOp(heads, 0.3f, HasBias: bias is not null, BiasKeyGridRows: gridRows, PackedQkv: true);
        var splitOp = packedOp with { PackedQkv = false };
        var packed = bias is null ? OpHarness.Run(packedOp, qkv) : OpHarness.Run(packedOp, qkv, bias);
        var split = bias is null ? OpHarness.Run(splitOp, Part(0), Part(1), Part(2)) : OpHarness.Run(splitOp, Part(0), Part(1), Part(2), bias);
        Assert.Equal(new Shape(batch, length, width), packed.Shape);
        Assert.Equal(split.ToFloatArray(), packed.ToFloatArray());
    }
}
