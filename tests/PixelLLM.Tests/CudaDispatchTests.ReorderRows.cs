using PixelLLM.Backends.Cuda.Ops;
using PixelLLM.Runtime.Checks;

namespace PixelLLM.Tests;

/// <summary>
/// ReorderRows (a beam step's KV caches): up to CudaOps.ReorderInPlaceMaxRows rows, one in-place launch over every
/// tensor (grid.y), moving 16-byte vectors where every row and address allows and elements otherwise; more rows stage
/// through scratch in two launches.
/// </summary>
public partial class CudaDispatchTests
{
    [Theory]
    [InlineData("4 caches of vectors", "F32", "reorder_rows_inplace_v16_r4", 4)]    // 96-byte rows
    [InlineData("4 caches of vectors", "BF16", "reorder_rows_inplace_v16_r4", 4)]   // 48-byte rows
    [InlineData("", "F32", "reorder_rows_inplace_b4_r4", 1)]                        // 24-byte rows: elements
    [InlineData("", "BF16", "reorder_rows_inplace_b2_r4", 1)]
    [InlineData("3 tensors", "BF16", "reorder_rows_inplace_b2_r4", 3)]              // 60-byte rows
    [InlineData("2 tensors u8", "F32", "reorder_rows_inplace_b1_r16", 2)]
    [InlineData("valid prefix", "BF16", "reorder_rows_inplace_v16_r4", 3)]               // 16-byte slots
    [InlineData("valid prefix of elements", "BF16", "reorder_rows_inplace_b2_r4", 2)]    // 6-byte slots
    public void FewRowsReorderInPlaceInOneLaunch(string label, string storage, string kernel, int tensors)
    {
        var recorder = new RecordingQueue();
        CheckDispatch(ReorderCase(label), storage, recorder);
        var launch = Assert.Single(recorder.Launches);
        Assert.Equal(kernel, launch.Kernel);
        Assert.Equal((uint)tensors, launch.Grid.Y);
        Assert.Equal(0, recorder.Actions - recorder.Launches.Count); // no copy: the inputs are the outputs
    }

    [Fact]
    public void MoreRowsThanTheInPlaceLimitStageThroughScratch()
    {
        var c = ReorderCase("20 rows");
        Assert.True(c.Inputs[0].Shape[0] > CudaOps.ReorderInPlaceMaxRows);
        var recorder = new RecordingQueue();
        CheckDispatch(c, "BF16", recorder);
        Assert.Equal(["reorder_rows_stage_b2", "reorder_rows_commit_b2"], recorder.Launches.Select(l => l.Kernel));
    }

    [Fact]
    public void AValidPrefixOfMoreRowsStagesThroughScratch()
    {
        var recorder = new RecordingQueue();
        CheckDispatch(ReorderCase("valid prefix, 20 rows"), "F32", recorder);
        Assert.Equal(["reorder_rows_stage_b4", "reorder_rows_commit_b4"], recorder.Launches.Select(l => l.Kernel));
    }

    private static OpCheckCase ReorderCase(string label) =>
        OpCheckCases.All.Single(c => c.Op is PixelLLM.Runtime.Ops.ReorderRowsOp && c.Label == label);
}
