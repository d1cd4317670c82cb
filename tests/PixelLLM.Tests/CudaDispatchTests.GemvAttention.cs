using PixelLLM.Runtime.Checks;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Tests;

/// <summary>
/// PIXELLLM_GEMV_ATTENTION: a one-row decode layer run as ops launches gemv_attention.cu's two kernels (qkv with
/// self-attention, cross query with cross-attention) in place of its two projections and two attention_decode.cu
/// launches; every other launch stays as it was. Layers it does not serve (several rows, a head dim the four-column
/// blocks do not divide) launch exactly what they did without the switch.
/// </summary>
public partial class CudaDispatchTests
{
    [Theory]
    [InlineData("F32")]
    [InlineData("BF16")]
    public void GemvAttentionReplacesAOneRowLayersAttentionLaunches(string storage)
    {
        string[] served = ["decoder layer 1 row hd16", "decoder layer 1 row wide", "decoder stack 2 layers 1 row wide", "decoder stack 26 layers 1 row"];
        foreach (var c in OpCheckCases.All.Where(c => c.Op is T5DecoderLayerOp or T5DecoderStackOp))
        {
            var on = new RecordingQueue { GemvAttention = true };
            CheckDispatch(c, storage, on);
            var off = new RecordingQueue();
            CheckDispatch(c, storage, off);
            if (!served.Contains(c.Label))
            {
                Assert.Equal(off.Launches.Select(l => l.Kernel), on.Launches.Select(l => l.Kernel));
                continue;
            }
            var layer = c.Op is T5DecoderStackOp stack ? stack.Layer : (T5DecoderLayerOp)c.Op;
            int layers = c.Op is T5DecoderStackOp st ? st.Layers : 1;
            int attentions = off.Launches.Count(l => l.File == "attention_decode.cu");
            Assert.Equal(2 * layers, attentions);
            Assert.DoesNotContain(on.Launches, l => l.File == "attention_decode.cu");
            Assert.Equal(off.Launches.Count - attentions, on.Launches.Count);
            var fused = on.Launches.Where(l => l.File == "gemv_attention.cu").ToList();
            Assert.Equal(attentions, fused.Count);
            // Four columns a block, ordered by head: 3·dim/4 blocks a head for q | k | v, dim/4 for the cross query.
            // The plain qkv launch has inner / 4 blocks in x.
            uint qkvBlocks = off.Launches.First(l => l.Kernel.StartsWith("gemv_rmsnorm_qkv_")).Grid.X;
            int blocksPerHead = (int)qkvBlocks / layer.NumHeads;
            string suffix = storage.ToLowerInvariant();
            for (int i = 0; i < fused.Count; i += 2)
            {
                Assert.Equal(($"gemv_rmsnorm_qkv_attend_{suffix}", (uint)(layer.NumHeads * 3 * blocksPerHead)), (fused[i].Kernel, fused[i].Grid.X));
                Assert.Equal(($"gemv_rmsnorm_attend_{suffix}", (uint)(layer.NumHeads * blocksPerHead)), (fused[i + 1].Kernel, fused[i + 1].Grid.X));
            }
        }
    }
}
