using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Graphs;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// The ops that stand for several steps (GridAttention: partition, terms, attention, un-partition; RotaryAttention: rope,
/// attention; Mlp: norm, Linears, activations). By default their steps launch as those ops do; with their switch the
/// cases a kernel serves are that kernel's one launch, and the rest still launch their steps.
/// </summary>
public partial class CudaDispatchTests
{
    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void GridAttentionIsOneLaunchWhereTheKernelServesIt(string storage)
    {
        int fused = StepsOrOneLaunch<GridAttentionOp>(storage, "grid_attention.cu", () => new RecordingQueue { FusedGridAttention = true }, Mma16,
            (c, op, steps, launch) =>
            {
                var s = op.SizesOf(c.Inputs);
                Assert.Equal(op.Window > 0, steps.Any(l => l.File == "window_partition.cu"));
                Assert.Equal(op.HasRelPos, steps.Any(l => l.File == "rel_pos_bias.cu"));
                if (launch is not { } one) return;
                Assert.Equal($"grid_attention_d{s.HeadDim}_bf16", one.Kernel);
                Assert.Equal(((uint)((s.Tokens + 63) / 64), (uint)op.NumHeads, (uint)s.Maps), one.Grid);
                // K and V stages, key cells, and f32 term rows at an odd pitch covering both tables' 2·S − 1 products.
                int pitch = op.HasRelPos ? (2 * s.SpanH - 1 + 2 * s.SpanW - 1) | 1 : 0;
                Assert.Equal(4 * 64 * (s.HeadDim + 8) * 2 + 2 * 64 * 4 + 64 * pitch * 4, one.SharedBytes);
            });
        Assert.Equal(storage == "BF16" ? 5 : 0, fused);
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void RotaryAttentionIsOneLaunchWhereTheKernelServesIt(string storage)
    {
        int fused = StepsOrOneLaunch<RotaryAttentionOp>(storage, "rotary_attention.cu", () => new RecordingQueue { TensorCoreAttention = true }, Mma16,
            (c, op, steps, launch) =>
            {
                int batch = c.Inputs[0].Shape[0], tokens = c.Inputs[0].Shape[1], dim = c.Inputs[0].Shape[2] / 3 / op.NumHeads;
                Assert.Equal("rope.cu", steps[0].File);
                if (launch is not { } one) return;
                Assert.Equal($"rotary_attention_d{dim}_bf16", one.Kernel);
                Assert.Equal(((uint)((tokens + 63) / 64), (uint)op.NumHeads, (uint)batch), one.Grid);
                Assert.Equal(4 * 64 * (dim + 8) * 2 + 2 * 64 * 4, one.SharedBytes);
            });
        Assert.Equal(storage == "BF16" ? 3 : 0, fused);
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void MlpIsOneLaunchWhereTheKernelServesIt(string storage)
    {
        int fused = StepsOrOneLaunch<MlpOp>(storage, "mlp.cu", () => new RecordingQueue { FusedMlp = true }, (c, _) => c.Label.StartsWith("fused"),
            (c, op, steps, launch) =>
            {
                Assert.Equal(op.PreNorm, steps[0].File == "layer_norm.cu");
                if (launch is not { } one) return;
                var widths = op.Widths(c.Inputs);
                int rows = (int)(c.Inputs[0].ElementCount / c.Inputs[0].Shape[-1]);
                Assert.Equal($"mlp_{storage.ToLowerInvariant()}", one.Kernel);
                Assert.Equal((uint)widths.Sum(n => (n + 7) / 8), one.Grid.X);
                // The widest layer input's rows, staged in shared memory.
                int widest = Math.Max(c.Inputs[0].Shape[-1], widths.SkipLast(1).DefaultIfEmpty(0).Max());
                Assert.Equal(rows * widest * (storage == "F32" ? 4 : 2), one.SharedBytes);
            });
        Assert.Equal(3, fused);
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void SwiGluNormIsOneLaunchWhereTheKernelServesIt(string storage)
    {
        int fused = StepsOrOneLaunch<SwiGluNormOp>(storage, "swiglu_norm.cu", () => new RecordingQueue { FusedSwiGluNorm = true },
            (c, _) => c.Label.StartsWith("fused"),
            (c, op, steps, launch) =>
            {
                Assert.Equal(["swiglu.cu", "layer_norm.cu"], steps.Select(l => l.File));
                if (launch is not { } one) return;
                int width = c.Inputs[0].Shape[-1] / 2;
                long rows = c.Inputs[0].ElementCount / (2 * width);
                Assert.Equal($"swiglu_norm_{storage.ToLowerInvariant()}", one.Kernel);
                Assert.Equal(((uint)((rows + 7) / 8), 1u, 1u), one.Grid);
                Assert.Equal(8 * width * (storage == "F32" ? 4 : 2), one.SharedBytes);
            });
        Assert.Equal(2, fused);
    }

    /// <summary>The tensor-core kernels serve the catalog's "mma" cases in 16-bit storage.</summary>
    private static bool Mma16(OpCheckCase c, string storage) => storage == "BF16" && c.Label.StartsWith("mma");

    /// <summary>
    /// Every catalog case of <typeparamref name="TOp"/> by default and with <paramref name="switchedOn"/>: the default
    /// launches no <paramref name="file"/>; switched on, a case <paramref name="serves"/> says the kernel takes is one
    /// launch of it and any other launches what the default did. <paramref name="check"/> gets the default's launches and
    /// the one launch (null where not served). Returns how many cases were served.
    /// </summary>
    private static int StepsOrOneLaunch<TOp>(string storage, string file, Func<RecordingQueue> switchedOn, Func<OpCheckCase, string, bool> serves,
        Action<OpCheckCase, TOp, List<(string File, string Kernel, int[] Sizes, (uint X, uint Y, uint Z) Grid, int SharedBytes)>,
            (string File, string Kernel, int[] Sizes, (uint X, uint Y, uint Z) Grid, int SharedBytes)?> check) where TOp : Op
    {
        int count = 0;
        foreach (var c in OpCheckCases.All.Where(c => c.Op is TOp))
        {
            var steps = new RecordingQueue();
            CheckDispatch(c, storage, steps);
            Assert.DoesNotContain(steps.Launches, l => l.File == file);
            var on = switchedOn();
            CheckDispatch(c, storage, on);
            if (serves(c, storage))
            {
                check(c, (TOp)c.Op, steps.Launches, Assert.Single(on.Launches));
                count++;
            }
            else
            {
                Assert.Equal(steps.Launches.Select(l => l.Kernel), on.Launches.Select(l => l.Kernel));
                check(c, (TOp)c.Op, steps.Launches, null);
            }
        }
        return count;
    }
}
