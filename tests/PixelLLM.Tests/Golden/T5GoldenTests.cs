using PixelLLM.Models;
using PixelLLM.Runtime.Ops;
using PixelLLM.Tests.GoldenTests;

namespace PixelLLM.Tests;

public class T5GoldenTests
{
    public static TheoryData<string> Cases => GoldenCaseAssert.Cases("t5");

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesHuggingFaceT5(string caseName) => GoldenCaseAssert.Passes("t5", caseName);

    [Theory]
    [InlineData(0, true, 32, 128, 0)]
    [InlineData(5, true, 32, 128, 21)]
    [InlineData(-5, true, 32, 128, 5)]
    [InlineData(-8, true, 32, 128, 8)]
    [InlineData(-200, true, 32, 128, 15)]
    [InlineData(3, false, 32, 128, 0)]
    [InlineData(-15, false, 32, 128, 15)]
    [InlineData(-16, false, 32, 128, 16)]
    [InlineData(-1000, false, 32, 128, 31)]
    public void RelativeBucketsFollowT5(int relative, bool bidirectional, int buckets, int maxDistance, int expected) =>
        Assert.Equal(expected, T5PositionBiasOp.Bucket(relative, bidirectional, buckets, maxDistance));

    [Fact]
    public void LogBucketsMatchFloat64Formula()
    {
        // Spec §5.1: n ≥ max_exact → max_exact + floor(ln(n/max_exact)/ln(max_distance/max_exact)·(buckets−max_exact)), capped.
        for (int n = 8; n < 400; n++)
        {
            int expected = Math.Min(8 + (int)Math.Floor(Math.Log(n / 8.0) / Math.Log(128 / 8.0) * 8), 15);
            Assert.Equal(expected, T5PositionBiasOp.Bucket(-n, bidirectional: true, 32, 128));
            Assert.Equal(16 + expected, T5PositionBiasOp.Bucket(n, bidirectional: true, 32, 128));
        }
    }
}
