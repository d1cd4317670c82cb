using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// GridAttention on CUDA: by default its steps (partition, terms, attention, un-partition) launch as those ops do; with
/// PIXELLLM_GRID_ATTENTION=1 the 16-bit cases grid_attention.cu has a kernel for are one launch over
/// (query blocks of 64, heads, every window), and the rest still run as their steps.
/// </summary>
public partial class CudaDispatchTests
{
    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void GridAttentionIsOneLaunchWhereTheKernelServesIt(string storage)
    {
        int fused = 0;
        foreach (var c in OpCheckCases.All.Where(c => c.Op is GridAttentionOp))
        {
            var op = (GridAttentionOp)c.Op;
            var s = op.SizesOf(c.Inputs);
            var steps = new RecordingQueue();
            CheckDispatch(c, storage, steps);
            Assert.DoesNotContain(steps.Launches, l => l.File == "grid_attention.cu");
            Assert.Equal(op.Window > 0, steps.Launches.Any(l => l.File == "window_partition.cu"));
            Assert.Equal(op.HasRelPos, steps.Launches.Any(l => l.File == "rel_pos_bias.cu"));

            var on = new RecordingQueue { FusedGridAttention = true };
            CheckDispatch(c, storage, on);
            bool served = storage == "BF16" && c.Label.StartsWith("mma");
            if (!served)
            {
                Assert.Equal(steps.Launches.Select(l => l.Kernel), on.Launches.Select(l => l.Kernel));
                continue;
            }
            var launch = Assert.Single(on.Launches);
            Assert.Equal($"grid_attention_d{s.HeadDim}_bf16", launch.Kernel);
            Assert.Equal(((uint)((s.Tokens + 63) / 64), (uint)op.NumHeads, (uint)s.Maps), launch.Grid);
            // K and V stages, key cells, and f32 term rows at an odd pitch covering both tables' 2·S − 1 products.
            int pitch = op.HasRelPos ? (2 * s.SpanH - 1 + 2 * s.SpanW - 1) | 1 : 0;
            Assert.Equal(4 * 64 * (s.HeadDim + 8) * 2 + 2 * 64 * 4 + 64 * pitch * 4, launch.SharedBytes);
            fused++;
        }
        Assert.Equal(storage == "BF16" ? 3 : 0, fused);
    }
}
