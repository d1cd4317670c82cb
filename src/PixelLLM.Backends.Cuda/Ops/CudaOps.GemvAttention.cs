using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;
using L = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Input;
using M = PixelLLM.Runtime.Ops.T5DecoderLayerOp.Intermediate;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// gemv_attention.cu (with <see cref="IDeviceQueue.GemvAttention"/>): a one-row decode layer run as ops launches its
/// qkv projection and self-attention as one kernel, and its cross query and cross-attention as another; the block that
/// completes a head's projection runs that head's attention. The layer's other ops dispatch as usual.
/// </summary>
internal sealed partial class CudaOps
{
    /// <summary>gemv_attention.cu's limits: keys (GA_MAX_KEYS) and head dim (GA_MAX_D).</summary>
    private const int GemvAttentionMaxKeys = 256, GemvAttentionMaxHeadDim = 128;

    /// <summary>Its per-head counters in slot 5: the self-attention launch's heads, then the cross-attention launch's.</summary>
    private const int GemvAttentionCounterBytes = 1024, GemvAttentionMaxHeads = GemvAttentionCounterBytes / sizeof(int) / 2;

    /// <summary>
    /// Whether this layer's attentions run in its projections' launches: the switch on, one row, a head dim the blocks
    /// divide (four columns each) within the kernel's, both key lengths within its, one storage type, byte masks.
    /// </summary>
    private bool AttendsInGemv(T5DecoderLayerOp op, T5DecoderLayerOp.Sizes s, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        if (!queue.GemvAttention || s.Rows != 1 || op.NumHeads > GemvAttentionMaxHeads) return false;
        int dim = s.Inner / op.NumHeads;
        if (dim % GemvColumnsPerBlock != 0 || dim > GemvAttentionMaxHeadDim) return false;
        if (s.MaxLength is < 1 or > GemvAttentionMaxKeys || s.MemoryLength is < 1 or > GemvAttentionMaxKeys) return false;
        foreach (var input in (L[])[L.X, L.SelfNorm, L.Wq, L.Wk, L.Wv, L.KeyCache, L.ValueCache, L.Bias, L.CrossNorm, L.CrossWq, L.CrossKeys, L.CrossValues])
            if (x[(int)input].Type != y.Type) return false;
        return x[(int)L.SelfMask].Type == DType.U8 && x[(int)L.CrossMask].Type == DType.U8;
    }

    private void RunAttendingInGemv(T5DecoderLayerOp op, T5DecoderLayerOp.Sizes s, DeviceTensor[] x, DeviceTensor[] mids, DeviceTensor y)
    {
        int dim = s.Inner / op.NumHeads;
        ulong counters = Counters() + DecoderLayerCounterBytes + SkinnyCounterBytes;
        op.RunAsOps(x, mids, y, (step, inputs, output) =>
        {
            switch (step)
            {
                case QkvProjectionOp qkv:
                    GemvQkvAttend(op, qkv, inputs, output, x, mids[(int)M.O], counters, dim);
                    break;
                case RmsNormLinearOp norm:
                    GemvNormAttend(op, norm, inputs, output, x, mids[(int)M.CrossO], counters + (ulong)(GemvAttentionMaxHeads * sizeof(int)), dim, s.MemoryLength);
                    break;
                case AttentionOp:
                    break; // ran in the tail of the launch before it
                default:
                    Dispatch(step, inputs, output);
                    break;
            }
        });
    }

    /// <summary>gemv_rmsnorm_qkv_attend: q into <paramref name="q"/>, k and v into the caches, then self-attention into <paramref name="attended"/>.</summary>
    private void GemvQkvAttend(T5DecoderLayerOp layer, QkvProjectionOp op, DeviceTensor[] x, DeviceTensor q, DeviceTensor[] layerInputs,
        DeviceTensor attended, ulong counters, int dim)
    {
        if (!op.HasNorm) throw new BackendException("CUDA T5DecoderLayer: the fused qkv attention launch expects the RMS-norm prologue");
        var (keys, values) = (x[4], x[5]);
        var args = AttentionTail(QkvArgs(op, x, q), layer, keys, values, layerInputs[(int)L.Bias], layerInputs[(int)L.SelfMask], attended, counters,
            keys.Shape[1], dim);
        queue.Launch("gemv_attention.cu", $"gemv_rmsnorm_qkv_attend_{FloatSuffix(q, "T5DecoderLayer")}",
            ((uint)(layer.NumHeads * 3 * (dim / GemvColumnsPerBlock)), 1, 1), GemvColumnsPerBlock * 32, args);
    }

    /// <summary>gemv_rmsnorm_attend: the cross query into <paramref name="q"/>, then cross-attention into <paramref name="attended"/>.</summary>
    private void GemvNormAttend(T5DecoderLayerOp layer, RmsNormLinearOp op, DeviceTensor[] x, DeviceTensor q, DeviceTensor[] layerInputs,
        DeviceTensor attended, ulong counters, int dim, int memoryLength)
    {
        var (input, normWeight, weight) = (x[0], x[1], x[2]);
        var args = AttentionTail(GemvArgs(input.Ptr, 1, weight.Shape[1], weight, null, null, q, "T5DecoderLayer", (normWeight, op.Eps), null), layer,
            layerInputs[(int)L.CrossKeys], layerInputs[(int)L.CrossValues], default, layerInputs[(int)L.CrossMask], attended, counters, memoryLength, dim);
        queue.Launch("gemv_attention.cu", $"gemv_rmsnorm_attend_{FloatSuffix(q, "T5DecoderLayer")}",
            ((uint)(layer.NumHeads * (dim / GemvColumnsPerBlock)), 1, 1), GemvColumnsPerBlock * 32, args);
    }

    /// <summary>The attention's arguments after the projection's: keys, values, bias (or none), mask, output, counters, lk, head dim, scale, mask bias.</summary>
    private static KernelArgs AttentionTail(KernelArgs args, T5DecoderLayerOp layer, DeviceTensor keys, DeviceTensor values, DeviceTensor bias,
        DeviceTensor mask, DeviceTensor attended, ulong counters, int keyCount, int dim) =>
        args.Ptr(keys.Ptr).Ptr(values.Ptr).Ptr(bias.Ptr).Ptr(mask.Ptr).Ptr(attended.Ptr).Ptr(counters).I32(keyCount).I32(dim).F32(1f).F32(layer.MaskBias);
}
