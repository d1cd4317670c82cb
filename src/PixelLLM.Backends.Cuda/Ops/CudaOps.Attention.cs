using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>attention.cu: fused flash-style attention with broadcast bias, mask and causality read in place.</summary>
internal sealed partial class CudaOps
{
    /// <summary>Query rows per block and the head-dim limit of attention.cu (ATT_WARPS, ATT_MAX_D).</summary>
    private const int AttentionRowsPerBlock = 4, AttentionMaxHeadDim = 128;

    private void Attention(AttentionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (q, k, v) = (x[0], x[1], x[2]);
        int batch = q.Shape[0], lq = q.Shape[1], lk = k.Shape[1], heads = op.NumHeads;
        int dim = q.Shape[2] / heads, vdim = v.Shape[2] / heads;
        if (y.Count == 0) return;
        if (lk == 0)
        {
            queue.Fill(y.Ptr, 0, y.Bytes); // no keys: zeros, as the CPU backend defines it
            return;
        }
        if (dim > AttentionMaxHeadDim || vdim > AttentionMaxHeadDim)
            throw new BackendException($"CUDA Attention: head dims {dim}/{vdim} exceed the kernel's {AttentionMaxHeadDim}");
        int next = 3;
        var bias = op.HasBias ? x[next++] : default;
        var mask = op.HasMask ? x[next] : default;
        if (op.HasMask && mask.Type != DType.U8) throw new BackendException($"CUDA Attention: mask must be U8, got {mask.Desc}");
        bool decode = UsesDecodeAttention(lq, lk);
        uint blocks = decode ? (uint)lq : (uint)((lq + AttentionRowsPerBlock - 1) / AttentionRowsPerBlock);
        var (file, kernel) = decode ? ("attention_decode.cu", "attention_decode_") : ("attention.cu", "attention_");
        queue.Launch(file, kernel + FloatSuffix(q, "Attention"), (blocks, (uint)heads, (uint)batch), decode ? DecodeAttentionThreads : AttentionRowsPerBlock * 32,
            Args().Ptr(q.Ptr).Ptr(k.Ptr).Ptr(v.Ptr).Ptr(op.HasBias ? bias.Ptr : 0).Ptr(op.HasMask ? mask.Ptr : 0).Ptr(y.Ptr)
                .I32(heads).I32(lq).I32(lk).I32(dim).I32(vdim).F32(op.Scale).F32(op.MaskBias).I32(op.Causal ? 1 : 0)
                .Dims(op.HasBias ? BroadcastStrides4(bias.Shape) : default).Dims(op.HasMask ? BroadcastStrides4(mask.Shape) : default));
    }

    /// <summary>Element strides of a rank-4 row-major operand over (b, h, query, key), 0 on its size-1 dims.</summary>
    private static Dims8 BroadcastStrides4(Shape s)
    {
        var own = s.Strides();
        Span<long> strides = stackalloc long[4];
        for (int d = 0; d < 4; d++) strides[d] = s[d] == 1 ? 0 : own[d];
        return Dims8.From(strides);
    }
}
