using PixelLLM.Runtime;

namespace PixelLLM.Tests;

/// <summary>The vectorised bfloat16 span conversions equal the scalar ones bit for bit (ties, NaN, infinities, subnormals, tails).</summary>
public class BFloat16SpanTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(1037)]
    public void SpanConversionsEqualScalarOnes(int count)
    {
        var random = new Random(count);
        var special = new[] { float.NaN, -float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.Epsilon,
            BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000), BitConverter.UInt32BitsToSingle(0x7F7FFFFF),
            BitConverter.UInt32BitsToSingle(0xFFC00001), BitConverter.UInt32BitsToSingle(0x7F800001) };
        var values = Enumerable.Range(0, count).Select(i => i % 5 == 0 ? special[i / 5 % special.Length] : BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32))).ToArray();
        var bits = new ushort[count];
        BFloat16.FromSingles(values, bits);
        for (int i = 0; i < count; i++) Assert.Equal(BFloat16.FromSingle(values[i]), bits[i]);

        var widened = new float[count];
        BFloat16.ToSingles(bits, widened);
        for (int i = 0; i < count; i++) Assert.Equal(BitConverter.SingleToUInt32Bits(BFloat16.ToSingle(bits[i])), BitConverter.SingleToUInt32Bits(widened[i]));
    }
}
