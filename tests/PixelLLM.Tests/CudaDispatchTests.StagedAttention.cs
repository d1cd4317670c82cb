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

/// <summary>
/// PIXELLLM_WARP_SOFTMAX: the GEMM path's softmax runs attention_softmax.cu's warp-per-row kernel with the fewest values a
/// lane that hold a row (32 · V ≥ Lk), on ceil(Lq / 8) blocks of 8 warps; without the switch, the block-per-row kernel.
/// </summary>
public partial class CudaDispatchTests
{
    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void WarpSoftmaxHoldsEachRowInTheFewestValuesALane(string storage)
    {
        int warp = 0;
        foreach (var c in OpCheckCases.All.Where(c => c.Op is PixelLLM.Runtime.Ops.AttentionOp))
        {
            var on = new RecordingQueue { WarpSoftmax = true };
            CheckDispatch(c, storage, on);
            var off = new RecordingQueue();
            CheckDispatch(c, storage, off);
            Assert.DoesNotContain(off.Launches, l => l.Kernel.StartsWith("attention_softmax_w"));
            for (int i = 0; i < on.Launches.Count; i++)
            {
                var (launch, plain) = (on.Launches[i], off.Launches[i]);
                if (launch.File != "attention_softmax.cu") continue;
                // (s, p, bias, mask, b, lq, lk, …): the row counts the launch was given.
                var (data, offsets) = on.Arguments[i];
                int lq = BitConverter.ToInt32(data, offsets[5]), lk = BitConverter.ToInt32(data, offsets[6]);
                if (lk > 1024) { Assert.Equal(plain.Kernel, launch.Kernel); continue; }
                int values = int.Parse(launch.Kernel["attention_softmax_w".Length..launch.Kernel.LastIndexOf('_')]);
                Assert.True(32 * values >= lk && 32 * (values - 8) < lk, $"{c.Label}: {values} values a lane for {lk} keys");
                Assert.Equal(((uint)((lq + 7) / 8), plain.Grid.Y, plain.Grid.Z), launch.Grid);
                warp++;
            }
        }
        Assert.True(warp > 0, "no catalog case took the warp-per-row softmax");
    }
}

/// <summary>
/// PIXELLLM_STAGED_REL_POS: SAM's relative-position terms run rel_pos_bias_tables with both tables and a query row per
/// warp in shared memory, rows a pitch of D rounded up to 4 mod 8 floats apart, 64 tokens a block.
/// </summary>
public partial class CudaDispatchTests
{
    [Theory]
    [InlineData("q14x14 d80", 80, 27, 27, 84)]   // SAM-H's window attention: D 80 is 0 mod 8, so the pitch is 84
    [InlineData("q3x4 k5x2", 8, 9, 7, 12)]
    [InlineData("packed q3x5", 8, 5, 9, 12)]
    public void StagedRelPosTakesTheTablesAtAConflictFreePitch(string label, int dim, int rowsH, int rowsW, int pitch)
    {
        var c = OpCheckCases.All.Single(c => c.Label == label);
        var op = (PixelLLM.Runtime.Ops.RelPosBiasOp)c.Op;
        var staged = new RecordingQueue { StagedRelPos = true };
        CheckDispatch(c, "BF16", staged);
        var launch = Assert.Single(staged.Launches);
        Assert.Equal("rel_pos_bias_tables_bf16", launch.Kernel);
        Assert.Equal((rowsH + rowsW + 8) * pitch * 4, launch.SharedBytes);
        long tokens = (long)c.Inputs[0].Shape[0] * op.NumHeads * op.QueryH * op.QueryW;
        Assert.Equal((uint)((tokens + 63) / 64), launch.Grid.X);
        var (data, offsets) = staged.Arguments[0];
        Assert.Equal((dim, pitch), (BitConverter.ToInt32(data, offsets[6]), BitConverter.ToInt32(data, offsets[14])));

        var plain = new RecordingQueue();
        CheckDispatch(c, "BF16", plain);
        Assert.Equal(("rel_pos_bias_bf16", 0), (Assert.Single(plain.Launches).Kernel, plain.Launches[0].SharedBytes));
    }
}
