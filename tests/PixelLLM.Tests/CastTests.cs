using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.Support;

namespace PixelLLM.Tests;

public class CastTests
{
    private static HostTensor Cast(HostTensor x, DType to) => OpHarness.Run(new CastOp(to), x);

    /// <summary>bf16 by its definition: the nearer of the two bf16 neighbours in float64, the even one on a tie.</summary>
    private static ushort BFloat16Reference(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        uint down = bits & 0xFFFF0000u, up = down + 0x10000u;
        double dDown = Math.Abs(f - (double)BitConverter.UInt32BitsToSingle(down));
        double dUp = Math.Abs(BitConverter.UInt32BitsToSingle(up) - (double)f);
        if (dDown < dUp) return (ushort)(down >> 16);
        if (dUp < dDown) return (ushort)(up >> 16);
        return (ushort)(((down >> 16) & 1) == 0 ? down >> 16 : up >> 16);
    }

    [Fact]
    public void FloatToBFloat16RoundsToNearestEven()
    {
        var rng = new Random(11);
        var values = OpHarness.Random(rng, [7, 37], 1000f).ToFloatArray()
            .Concat([1f + 1f / 256, 1f + 3f / 256, 1f + 1f / 512, -(1f + 3f / 512), 3.0e38f, 1e-40f]) // exact ties both ways, huge, subnormal
            .ToArray();
        var y = Cast(HostTensor.FromArray(values, values.Length), DType.BF16);
        Assert.Equal(DType.BF16, y.DType);
        Assert.Equal(values.Select(BFloat16Reference).ToArray(), y.AsSpan<ushort>().ToArray());
    }

    [Fact]
    public void FloatToHalfMatchesDotNetRoundingAndRoundTrips()
    {
        var values = OpHarness.Random(new Random(12), [3, 7, 37], 50f).ToFloatArray().Concat([70000f, -1e-8f, 1f + 1f / 2048]).ToArray();
        var half = Cast(HostTensor.FromArray(values, values.Length), DType.F16);
        Assert.Equal(values.Select(v => (Half)v).ToArray(), half.AsSpan<Half>().ToArray());
        var back = Cast(half, DType.F32).AsSpan<float>().ToArray();
        for (int i = 0; i < values.Length - 3; i++) Assert.True(Math.Abs(back[i] - values[i]) <= Math.Abs(values[i]) * Math.Pow(2, -11));
        Assert.True(float.IsPositiveInfinity(back[^3]));
    }

    [Fact]
    public void SixteenBitFloatsConvertEachOtherThroughF32()
    {
        var values = new float[] { 1.5f, -2.25f, 65504f, 1e-3f, 0f };
        var half = HostTensor.FromArray(values.Select(v => (Half)v).ToArray(), values.Length);
        var bf16 = Cast(half, DType.BF16);
        Assert.Equal(half.ToFloatArray().Select(BFloat16Reference).ToArray(), bf16.AsSpan<ushort>().ToArray());
        var again = Cast(bf16, DType.F16);
        Assert.Equal(bf16.ToFloatArray().Select(v => (Half)v).ToArray(), again.AsSpan<Half>().ToArray());
    }

    [Fact]
    public void FloatToIntegerTruncatesTowardZero()
    {
        float[] values = [2.7f, -2.7f, 0.5f, -0.5f, 1e10f, -1e10f, float.NaN, 255.9f, 256f, -1f];
        var x = HostTensor.FromArray(values, values.Length);
        Assert.Equal([2, -2, 0, 0, int.MaxValue, int.MinValue, 0, 255, 256, -1], Cast(x, DType.I32).AsSpan<int>().ToArray());
        Assert.Equal([2L, -2, 0, 0, 10_000_000_000, -10_000_000_000, 0, 255, 256, -1], Cast(x, DType.I64).AsSpan<long>().ToArray());
        // U8 takes the truncated value modulo 256, as PyTorch does on x86.
        Assert.Equal(new byte[] { 2, 254, 0, 0, 0, 0, 0, 255, 0, 255 }, Cast(x, DType.U8).AsSpan<byte>().ToArray());
        var bf = Cast(HostTensor.FromArray([-3.75f, 100.5f], 2), DType.BF16);
        Assert.Equal([-3, 100], Cast(bf, DType.I32).AsSpan<int>().ToArray());
    }

    [Fact]
    public void IntegersWrapAndWidenExactly()
    {
        long[] longs = [(1L << 32) + 5, -1, 300, long.MaxValue, 16_777_217];
        var l = HostTensor.FromArray(longs, longs.Length);
        Assert.Equal([5, -1, 300, -1, 16_777_217], Cast(l, DType.I32).AsSpan<int>().ToArray());
        Assert.Equal(new byte[] { 5, 255, 44, 255, 1 }, Cast(l, DType.U8).AsSpan<byte>().ToArray());
        Assert.Equal(longs.Select(v => (float)v).ToArray(), Cast(l, DType.F32).AsSpan<float>().ToArray());

        var ints = Enumerable.Range(-500, 1000).Select(i => i * 7919).ToArray();
        var i32 = HostTensor.FromArray(ints, 10, 100);
        Assert.Equal(ints, Cast(Cast(i32, DType.I64), DType.I32).AsSpan<int>().ToArray());
        Assert.Equal(ints.Select(v => (float)v).ToArray(), Cast(i32, DType.F32).AsSpan<float>().ToArray());
        Assert.Equal(ints.Select(v => (Half)(float)v).ToArray(), Cast(i32, DType.F16).AsSpan<Half>().ToArray());

        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var u8 = HostTensor.FromArray(bytes, 256);
        Assert.Equal(bytes.Select(b => (float)b).ToArray(), Cast(u8, DType.F32).AsSpan<float>().ToArray());
        Assert.Equal(bytes.Select(b => (long)b).ToArray(), Cast(u8, DType.I64).AsSpan<long>().ToArray());
        Assert.Equal(bytes.Select(b => BFloat16Reference(b)).ToArray(), Cast(u8, DType.BF16).AsSpan<ushort>().ToArray());
    }

    [Fact]
    public void SameDtypeAndLargeCastsCopyEverything()
    {
        var x = OpHarness.Random(new Random(13), [3, 50_001], 10f);
        Assert.Equal(x.ToFloatArray(), Cast(x, DType.F32).ToFloatArray());
        var ints = Cast(x, DType.I32).AsSpan<int>().ToArray();
        Assert.Equal(x.ToFloatArray().Select(v => (int)Math.Truncate(v)).ToArray(), ints);
        var bf = Cast(x, DType.BF16);
        Assert.Equal(x.ToFloatArray().Select(BFloat16Reference).ToArray(), bf.AsSpan<ushort>().ToArray());
    }
}
