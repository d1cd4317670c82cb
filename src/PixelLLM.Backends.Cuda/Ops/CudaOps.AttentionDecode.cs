using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>attention_decode.cu: attention for a few query rows (decode steps): one block per row spread over the keys, or one warp per head for short caches.</summary>
internal sealed partial class CudaOps
{
    /// <summary>The most query rows served by attention_decode.cu: each row gets its own block, so K/V are re-read per row.</summary>
    internal const int DecodeAttentionMaxQueries = 4;

    /// <summary>The most keys attention_decode.cu holds scores for in shared memory (DEC_MAX_KEYS).</summary>
    internal const int DecodeAttentionMaxKeys = 8192;

    /// <summary>Threads per block of attention_decode.cu (32·DEC_WARPS).</summary>
    private const int DecodeAttentionThreads = 256;

    /// <summary>Whether (Lq, Lk) goes to attention_decode.cu rather than the query-tiled attention.cu.</summary>
    internal static bool UsesDecodeAttention(int lq, int lk) => lq <= DecodeAttentionMaxQueries && lk <= DecodeAttentionMaxKeys;

    /// <summary>The most keys of attention_decode.cu's warp-per-head kernel (WARP_MAX_KEYS: two per lane), and its heads per block.</summary>
    internal const int WarpAttentionMaxKeys = 64;
    private const int WarpAttentionHeadsPerBlock = 4;

    /// <summary>
    /// Whether a decode attention takes the warp-per-head kernel: few keys (a T5 step's 22 self and 40 cross keys), key rows
    /// read as 16-byte vectors (head dim a multiple of 16 bytes, q and k aligned).
    /// </summary>
    internal static bool UsesWarpAttention(int lk, int dim, DeviceTensor q, DeviceTensor k) =>
        lk <= WarpAttentionMaxKeys && dim * q.ElementSize % 16 == 0 && q.Ptr % 16 == 0 && k.Ptr % 16 == 0;

    private void WarpAttention(AttentionOp op, DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor bias, DeviceTensor mask, DeviceTensor y,
        (int Batch, int Lq, int Lk, int Heads, int Dim, int VDim) s)
    {
        uint blocks = (uint)((s.Heads + WarpAttentionHeadsPerBlock - 1) / WarpAttentionHeadsPerBlock);
        queue.Launch("attention_decode.cu", "attention_decode_warp_" + FloatSuffix(q, "Attention"), (blocks, (uint)s.Lq, (uint)s.Batch),
            WarpAttentionHeadsPerBlock * 32,
            Args().Ptr(q.Ptr).Ptr(k.Ptr).Ptr(v.Ptr).Ptr(op.HasBias ? bias.Ptr : 0).Ptr(op.HasMask ? mask.Ptr : 0).Ptr(y.Ptr)
                .I32(s.Heads).I32(s.Lq).I32(s.Lk).I32(s.Dim).I32(s.VDim).F32(op.Scale).F32(op.MaskBias).I32(op.Causal ? 1 : 0)
                .Dims(op.HasBias ? BroadcastStrides4(bias.Shape) : default).Dims(op.HasMask ? BroadcastStrides4(mask.Shape) : default));
    }
}
