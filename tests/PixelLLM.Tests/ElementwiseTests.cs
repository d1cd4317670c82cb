using System.Runtime.InteropServices;
using PixelLLM.Backends.Cpu;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class ElementwiseTests
{
    // ---- float64 references, independent of the kernels ----

    /// <summary>erf by its Maclaurin series (|x| &lt; 3) or 1 − erfc by continued fraction beyond.</summary>
    private static double ErfRef(double x)
    {
        double a = Math.Abs(x);
        double r = a < 3 ? ErfSeries(a) : 1 - ErfcFraction(a);
        return Math.CopySign(r, x);
    }

    /// <summary>erfc(a) for a ≥ 0 without cancellation in the tail.</summary>
    private static double ErfcRef(double a) => a < 3 ? 1 - ErfSeries(a) : ErfcFraction(a);

    private static double ErfSeries(double x)
    {
        // 2/√π Σ (−1)^n x^(2n+1) / (n!(2n+1))
        double term = x, sum = x;
        for (int n = 1; n < 200; n++)
        {
            term *= -x * x / n;
            double contribution = term / (2 * n + 1);
            sum += contribution;
            if (Math.Abs(contribution) < 1e-17 * Math.Abs(sum)) break;
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    private static double ErfcFraction(double x)
    {
        // erfc x = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from the back.
        double t = x;
        for (int k = 200; k >= 1; k--) t = x + k / 2.0 / t;
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / t;
    }

    /// <summary>Φ(x) from erfc on the side where 1 ± erf would cancel.</summary>
    private static double NormalCdf(double x) => x < 0 ? 0.5 * ErfcRef(-x / Math.Sqrt(2)) : 1 - 0.5 * ErfcRef(x / Math.Sqrt(2));

    private static double UnaryRef(UnaryKind kind, double x) => kind switch
    {
        UnaryKind.Relu => Math.Max(x, 0),
        UnaryKind.Gelu => x * NormalCdf(x),
        UnaryKind.GeluTanh => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        UnaryKind.Silu => x / (1 + Math.Exp(-x)),
        UnaryKind.Sigmoid => 1 / (1 + Math.Exp(-x)),
        UnaryKind.Tanh => Math.Tanh(x),
        UnaryKind.Exp => Math.Exp(x),
        UnaryKind.Neg => -x,
        UnaryKind.Sqrt => Math.Sqrt(x),
        UnaryKind.Abs => Math.Abs(x),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static double BinaryRef(BinaryKind kind, double a, double b) => kind switch
    {
        BinaryKind.Add => a + b,
        BinaryKind.Sub => a - b,
        BinaryKind.Mul => a * b,
        BinaryKind.Div => a / b,
        BinaryKind.Max => Math.Max(a, b),
        BinaryKind.Min => Math.Min(a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>NumPy broadcasting done by explicit index arithmetic on every output element.</summary>
    private static double[] BroadcastRef(BinaryKind kind, double[] a, int[] sa, double[] b, int[] sb, out int[] shape)
    {
        int rank = Math.Max(sa.Length, sb.Length);
        int Dim(int[] s, int i) => i - (rank - s.Length) >= 0 ? s[i - (rank - s.Length)] : 1;
        shape = Enumerable.Range(0, rank).Select(i => Math.Max(Dim(sa, i), Dim(sb, i))).ToArray();
        int total = shape.Aggregate(1, (p, d) => p * d);
        var y = new double[total];
        var index = new int[rank];
        for (int flat = 0; flat < total; flat++)
        {
            int rest = flat;
            for (int i = rank - 1; i >= 0; i--) { index[i] = rest % shape[i]; rest /= shape[i]; }
            int ia = 0, ib = 0;
            for (int i = 0; i < rank; i++)
            {
                ia = ia * Dim(sa, i) + (Dim(sa, i) == 1 ? 0 : index[i]);
                ib = ib * Dim(sb, i) + (Dim(sb, i) == 1 ? 0 : index[i]);
            }
            y[flat] = BinaryRef(kind, a[ia], b[ib]);
        }
        return y;
    }

    // ---- Unary ----

    public static TheoryData<UnaryKind> UnaryKinds() => [.. Enum.GetValues<UnaryKind>()];

    [Theory]
    [MemberData(nameof(UnaryKinds))]
    public void UnaryMatchesFloat64(UnaryKind kind)
    {
        var rng = new Random((int)kind + 10);
        var x = OpHarness.Random(rng, [3, 7, 37], 6f);
        var y = OpHarness.Run(new UnaryOp(kind), x);
        OpHarness.AssertClose(OpHarness.AsDoubles(x).Select(v => UnaryRef(kind, v)).ToArray(), y, what: kind.ToString());
    }

    [Theory]
    [MemberData(nameof(UnaryKinds))]
    public void UnaryOnLargeTensorUsesSameMathAcrossChunks(UnaryKind kind)
    {
        var rng = new Random((int)kind + 20);
        var x = OpHarness.Random(rng, [3, 40_001], 3f);
        var y = OpHarness.Run(new UnaryOp(kind), x);
        OpHarness.AssertClose(OpHarness.AsDoubles(x).Select(v => UnaryRef(kind, v)).ToArray(), y, what: kind.ToString());
    }

    [Theory]
    [InlineData(UnaryKind.Gelu)]
    [InlineData(UnaryKind.Silu)]
    [InlineData(UnaryKind.Exp)]
    public void UnaryOn16BitFloatsComputesInF32AndRoundsBack(UnaryKind kind)
    {
        var rng = new Random(5);
        var source = OpHarness.Random(rng, [5, 31], 3f).ToFloatArray();
        var half = HostTensor.FromArray(source.Select(v => (Half)v).ToArray(), 5, 31);
        var bf16 = new HostTensor(new TensorDesc(DType.BF16, new Shape(5, 31)),
            MemoryMarshal.AsBytes(source.Select(BFloat16.FromSingle).ToArray().AsSpan()).ToArray());
        // Inputs are what the 16-bit tensors hold; outputs carry one more 16-bit rounding (2^-11 and 2^-8 relative).
        var yHalf = OpHarness.Run(new UnaryOp(kind), half);
        OpHarness.AssertClose(half.ToFloatArray().Select(v => UnaryRef(kind, v)).ToArray(), yHalf, atol: 1e-4, rtol: 1e-3, what: "f16");
        var yBf16 = OpHarness.Run(new UnaryOp(kind), bf16);
        OpHarness.AssertClose(bf16.ToFloatArray().Select(v => UnaryRef(kind, v)).ToArray(), yBf16, atol: 1e-3, rtol: 4e-3, what: "bf16");
        Assert.Equal(DType.BF16, yBf16.DType);
    }

    [Fact]
    public void UnarySpecialValues()
    {
        float[] special = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 30f, -30f, 1e-30f];
        foreach (var kind in Enum.GetValues<UnaryKind>())
        {
            var y = OpHarness.Run(new UnaryOp(kind), HostTensor.FromArray(special, special.Length)).ToFloatArray();
            for (int i = 0; i < special.Length; i++)
            {
                double e = UnaryRef(kind, special[i]);
                if (kind is UnaryKind.Gelu or UnaryKind.GeluTanh or UnaryKind.Silu && special[i] == float.NegativeInfinity) continue; // −∞·0: PyTorch gives NaN too, not a contract point
                Assert.True(double.IsNaN(e) ? float.IsNaN(y[i]) : Math.Abs(y[i] - e) <= 1e-6 * Math.Abs(e) + 1e-30 || y[i] == e,
                    $"{kind}({special[i]}) = {y[i]}, expected {e}");
            }
        }
    }

    [Fact]
    public void ErfIsAccurateToAboutOneUlp()
    {
        var xs = Enumerable.Range(-120_000, 240_001).Select(i => i * 5e-5f).Concat([1e-20f, -1e-12f, 1e-6f, 0.9999999f, 1.0000001f]).ToArray();
        var ys = new float[xs.Length];
        Erf.Compute(xs, ys);
        double worst = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            double e = ErfRef(xs[i]);
            double rel = Math.Abs(ys[i] - e) / Math.Max(Math.Abs(e), 1e-38);
            Assert.True(rel <= 1e-6, $"erf({xs[i]:R}) = {ys[i]:R}, expected {e:R}");
            worst = Math.Max(worst, rel);
        }
        // The relative rounding unit of float is 6e-8: anything far past a few units would mean a broken fit.
        Assert.True(worst < 2.5e-7, $"worst relative erf error {worst}");
    }

    [Fact]
    public void ExactGeluIsAccurateIncludingTheLeftTail()
    {
        var xs = Enumerable.Range(-2000, 4001).Select(i => i * 0.005f).ToArray();
        var y = OpHarness.Run(new UnaryOp(UnaryKind.Gelu), HostTensor.FromArray(xs, xs.Length));
        OpHarness.AssertClose(xs.Select(x => x * NormalCdf(x)).ToArray(), y, atol: 1e-6, rtol: 1e-6);
        // In the left tail GELU is tiny; computing 1 + erf there would leave few correct digits.
        var tail = Enumerable.Range(0, 50).Select(i => -4f - i * 0.1f).ToArray();
        var yt = OpHarness.Run(new UnaryOp(UnaryKind.Gelu), HostTensor.FromArray(tail, tail.Length));
        OpHarness.AssertClose(tail.Select(x => x * NormalCdf(x)).ToArray(), yt, atol: 0, rtol: 5e-6);
    }

    // ---- Binary ----

    public static TheoryData<int[], int[]> BroadcastShapes() => new()
    {
        { [3, 7, 37], [3, 7, 37] },
        { [3, 1, 5], [4, 1] },
        { [1], [2, 3] },
        { [2, 3], [1] },
        { [1, 1], [3, 7] },
        { [1, 1], [1, 1] },
        { [3, 7, 37], [37] },
        { [37], [3, 7, 37] },
        { [5, 1, 7], [1, 6, 1] },
        { [2, 1, 3, 1, 4], [6, 3, 5, 1] },
        { [4, 5, 1], [4, 1, 1] },
        { [3, 7, 1], [7, 9] },
        { [64, 1031], [1031] },
        { [2, 40_003], [2, 40_003] },
        { [40_003, 1], [1, 3] },
        // Short rows over a repeating row: grouped into wider rows (53, 194 and 7 rows at once), or not (1031 is prime; a
        // repeating operand that varies along the rows is not one row).
        { [1, 37, 53, 3], [3] },
        { [3], [2, 97, 3] },
        { [7, 5], [5] },
        { [1031, 2], [1, 2] },
        { [2, 1024, 3], [2, 1, 3] },
    };

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void BinaryBroadcastsLikeNumPy(int[] shapeA, int[] shapeB)
    {
        foreach (var kind in Enum.GetValues<BinaryKind>())
        {
            var rng = new Random(shapeA.Sum() * 31 + shapeB.Sum() + (int)kind);
            var a = OpHarness.Random(rng, shapeA, 3f);
            var b = OpHarness.Random(rng, shapeB, 3f);
            if (kind == BinaryKind.Div) // keep divisors away from 0 so the comparison measures the kernel, not conditioning
                b = HostTensor.FromArray(b.ToFloatArray().Select(v => v + MathF.CopySign(0.5f, v)).ToArray(), shapeB);
            var y = OpHarness.Run(new BinaryOp(kind), a, b);
            var expected = BroadcastRef(kind, OpHarness.AsDoubles(a), shapeA, OpHarness.AsDoubles(b), shapeB, out var shape);
            Assert.Equal(shape, y.Shape.ToArray());
            OpHarness.AssertClose(expected, y, what: $"{kind} {a.Shape}∘{b.Shape}");
        }
    }

    [Fact]
    public void BinaryMaxMinPropagateNaN()
    {
        var a = HostTensor.FromArray([float.NaN, 1f, 2f, -0f], 4);
        var b = HostTensor.FromArray([0f, float.NaN, 3f, 0f], 4);
        var max = OpHarness.Run(new BinaryOp(BinaryKind.Max), a, b).ToFloatArray();
        var min = OpHarness.Run(new BinaryOp(BinaryKind.Min), a, b).ToFloatArray();
        Assert.True(float.IsNaN(max[0]) && float.IsNaN(max[1]) && float.IsNaN(min[0]) && float.IsNaN(min[1]));
        Assert.Equal(3f, max[2]);
        Assert.Equal(2f, min[2]);
    }

    [Fact]
    public void BinaryOnIntegersWrapsAndTruncates()
    {
        var a = HostTensor.FromArray([7, -7, 9, int.MaxValue, 0, 5], 2, 3);
        var b = HostTensor.FromArray([2, 2, -4], 3);
        Assert.Equal([3, -3, -2, 1073741823, 0, -1], OpHarness.Run(new BinaryOp(BinaryKind.Div), a, b).AsSpan<int>().ToArray());
        Assert.Equal([9, -5, 5, int.MinValue + 1, 2, 1], OpHarness.Run(new BinaryOp(BinaryKind.Add), a, b).AsSpan<int>().ToArray());
        Assert.Equal([7, 2, 9, int.MaxValue, 2, 5], OpHarness.Run(new BinaryOp(BinaryKind.Max), a, b).AsSpan<int>().ToArray());

        var la = HostTensor.FromArray([3L << 40, -5L], 2, 1);
        var lb = HostTensor.FromArray([2L, 3L, -1L], 1, 3);
        Assert.Equal([6L << 40, 9L << 40, -(3L << 40), -10, -15, 5], OpHarness.Run(new BinaryOp(BinaryKind.Mul), la, lb).AsSpan<long>().ToArray());

        var ua = HostTensor.FromArray(new byte[] { 250, 3 }, 2);
        var ub = HostTensor.FromArray(new byte[] { 10 }, 1);
        Assert.Equal(new byte[] { 4, 13 }, OpHarness.Run(new BinaryOp(BinaryKind.Add), ua, ub).AsSpan<byte>().ToArray());
    }

    [Fact]
    public void IntegerDivisionByZeroIsRejected()
    {
        var a = HostTensor.FromArray([1, 2, 3], 3);
        var b = HostTensor.FromArray([1, 0, 3], 3);
        var ex = Assert.Throws<InvalidInputException>(() => OpHarness.Run(new BinaryOp(BinaryKind.Div), a, b));
        Assert.Contains("zero", ex.Message);
    }

    [Fact]
    public void BinaryOn16BitFloats()
    {
        var rng = new Random(8);
        var a = OpHarness.Random(rng, [3, 1, 17], 2f).ToFloatArray();
        var b = OpHarness.Random(rng, [4, 17], 2f).ToFloatArray();
        var ha = HostTensor.FromArray(a.Select(v => (Half)v).ToArray(), 3, 1, 17);
        var hb = HostTensor.FromArray(b.Select(v => (Half)v).ToArray(), 4, 17);
        var yh = OpHarness.Run(new BinaryOp(BinaryKind.Mul), ha, hb);
        Assert.Equal(DType.F16, yh.DType);
        var expected = BroadcastRef(BinaryKind.Mul, OpHarness.AsDoubles(ha), [3, 1, 17], OpHarness.AsDoubles(hb), [4, 17], out _);
        OpHarness.AssertClose(expected, yh, atol: 1e-3, rtol: 1e-3);

        HostTensor Bf(float[] v, params int[] shape) => new(new TensorDesc(DType.BF16, new Shape(shape)),
            MemoryMarshal.AsBytes(v.Select(BFloat16.FromSingle).ToArray().AsSpan()).ToArray());
        var (ba, bb) = (Bf(a, 3, 1, 17), Bf(b, 4, 17));
        var yb = OpHarness.Run(new BinaryOp(BinaryKind.Sub), ba, bb);
        var expectedB = BroadcastRef(BinaryKind.Sub, OpHarness.AsDoubles(ba), [3, 1, 17], OpHarness.AsDoubles(bb), [4, 17], out _);
        OpHarness.AssertClose(expectedB, yb, atol: 1e-2, rtol: 4e-3);
    }

    // ---- Scale, SwiGlu ----

    [Fact]
    public void ScaleIsAffine()
    {
        var x = OpHarness.Random(new Random(9), [3, 7, 37], 5f);
        var y = OpHarness.Run(new ScaleOp(-1.75f, 0.3f), x);
        OpHarness.AssertClose(OpHarness.AsDoubles(x).Select(v => v * -1.75 + 0.3).ToArray(), y);
        var half = HostTensor.FromArray(x.ToFloatArray().Select(v => (Half)v).ToArray(), 3, 7, 37);
        var yh = OpHarness.Run(new ScaleOp(0.5f), half);
        OpHarness.AssertClose(OpHarness.AsDoubles(half).Select(v => v * 0.5).ToArray(), yh, atol: 0, rtol: 0); // halving is exact
    }

    [Fact]
    public void SwiGluIsSiluOfGateTimesX()
    {
        var rng = new Random(10);
        var gate = OpHarness.Random(rng, [5, 9, 43], 6f);
        var x = OpHarness.Random(rng, [5, 9, 43], 2f);
        var y = OpHarness.Run(new SwiGluOp(), gate, x);
        var (g, v) = (OpHarness.AsDoubles(gate), OpHarness.AsDoubles(x));
        OpHarness.AssertClose(g.Select((gi, i) => gi / (1 + Math.Exp(-gi)) * v[i]).ToArray(), y);
    }

    /// <summary>GeGLU against float64, and bit-equal to the two ops it replaces (tanh GELU, then Mul).</summary>
    [Fact]
    public void GeGluIsTanhGeluOfGateTimesXAndEqualsTheUnfusedPair()
    {
        var rng = new Random(11);
        var gate = OpHarness.Random(rng, [3, 7, 41], 6f);
        var x = OpHarness.Random(rng, [3, 7, 41], 2f);
        var y = OpHarness.Run(new GeGluOp(), gate, x);
        var (g, v) = (OpHarness.AsDoubles(gate), OpHarness.AsDoubles(x));
        OpHarness.AssertClose(g.Select((gi, i) => 0.5 * gi * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (gi + 0.044715 * gi * gi * gi))) * v[i]).ToArray(), y);
        var unfused = OpHarness.Run(new BinaryOp(BinaryKind.Mul), OpHarness.Run(new UnaryOp(UnaryKind.GeluTanh), gate), x);
        Assert.Equal(unfused.ToFloatArray(), y.ToFloatArray());
    }

    /// <summary>Packed gate | x rows give bit for bit what the split gate and x give, SwiGLU and GeGLU (odd width: vector body and tail).</summary>
    [Theory]
    [InlineData(3, 21)]
    [InlineData(730, 88)]
    public void PackedGatedUnitsEqualTheSplitOperands(int rows, int width)
    {
        var packed = OpHarness.Random(new Random(width), [rows, 2 * width], 4f);
        var (gate, x) = (OpHarness.Columns(packed, 0, width), OpHarness.Columns(packed, width, width));
        foreach (var (split, fused) in new (PixelLLM.Runtime.Graphs.Op, PixelLLM.Runtime.Graphs.Op)[] { (new SwiGluOp(), new SwiGluOp(Packed: true)), (new GeGluOp(), new GeGluOp(Packed: true)) })
        {
            var expected = OpHarness.Run(split, gate, x);
            var got = OpHarness.Run(fused, packed);
            Assert.Equal(new Shape(rows, width), got.Shape);
            Assert.Equal(expected.ToFloatArray(), got.ToFloatArray());
        }
    }
}
