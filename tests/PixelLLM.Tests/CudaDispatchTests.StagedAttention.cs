using PixelLLM.Runtime.Checks;

namespace PixelLLM.Tests;

/// <summary>
/// PIXELLLM_STAGED_ATTENTION: attention_decode.cu stages a call's keys and values in shared memory where they fit and
/// every row is whole aligned 16-byte vectors (its last argument says so); otherwise, and without the switch, it reads
/// them in place as before.
/// </summary>
public partial class CudaDispatchTests
{
    /// <summary>The staged flag of the case's attention_decode.cu launch.</summary>
    private static int StagedFlag(string label, string storage, bool staged)
    {
        var recorder = new RecordingQueue { StagedDecodeAttention = staged };
        CheckDispatch(OpCheckCases.All.Single(c => c.Label == label), storage, recorder);
        int i = Assert.Single(Enumerable.Range(0, recorder.Launches.Count), i => recorder.Launches[i].File == "attention_decode.cu");
        var (data, offsets) = recorder.Arguments[i];
        return BitConverter.ToInt32(data, offsets[^1]);
    }

    [Theory]
    [InlineData("decode lk22 t5 bias", "BF16", 1)]      // T5's self-attention: 22 keys of 64 dims, 5.6 KB of rows
    [InlineData("decode lk40 mask beam4", "BF16", 1)]   // four beams' rows, a mask
    [InlineData("decode lk22 t5 bias", "F32", 1)]
    [InlineData("decode packed qkv lq3", "BF16", 1)]    // packed q | k | v: rows 3·inner apart, still aligned
    [InlineData("decode lk300 d80", "BF16", 0)]         // 300 × 160 × 2 B of rows: more than the scores' 32 KB
    [InlineData("decode d12 h5", "BF16", 0)]            // 12-dim heads: 24-byte rows, not whole 16-byte vectors
    public void StagesWhereTheRowsFitAndAreWholeVectors(string label, string storage, int expected)
    {
        Assert.Equal(expected, StagedFlag(label, storage, staged: true));
        Assert.Equal(0, StagedFlag(label, storage, staged: false));
    }
}
