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
        var (keys, values, position) = (x[4], x[5], x[6]);
        int size = keys.Shape[1], outFeatures = keys.Shape[2], inFeatures = x[1].Shape[1];
        Span<ulong> biases = stackalloc ulong[3];
        for (int p = 0; op.HasBias && p < 3; p++) biases[p] = x[op.BiasInput(p)].Ptr;
        queue.Launch("gemv_attention.cu", $"gemv_rmsnorm_qkv_attend_{FloatSuffix(q, "T5DecoderLayer")}",
            ((uint)(layer.NumHeads * 3 * (dim / GemvColumnsPerBlock)), 1, 1), GemvColumnsPerBlock * 32,
            Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(x[2].Ptr).Ptr(x[3].Ptr).Ptr(biases[0]).Ptr(biases[1]).Ptr(biases[2])
                .Ptr(x[op.NormInput].Ptr).Ptr(q.Ptr).Ptr(keys.Ptr).Ptr(values.Ptr).I32(outFeatures).I32(inFeatures).F32(op.Eps)
                .Ptr(position.Ptr).I32(size).Ptr(queue.ErrorWord).Prefetch(Prefetch(x[1].Ptr))
                .Ptr(layerInputs[(int)L.Bias].Ptr).Ptr(layerInputs[(int)L.SelfMask].Ptr).Ptr(attended.Ptr).Ptr(counters).I32(dim)
                .F32(1f).F32(layer.MaskBias));
    }

    /// <summary>gemv_rmsnorm_attend: the cross query into <paramref name="q"/>, then cross-attention into <paramref name="attended"/>.</summary>
    private void GemvNormAttend(T5DecoderLayerOp layer, RmsNormLinearOp op, DeviceTensor[] x, DeviceTensor q, DeviceTensor[] layerInputs,
        DeviceTensor attended, ulong counters, int dim, int memoryLength)
    {
        var (input, normWeight, weight) = (x[0], x[1], x[2]);
        queue.Launch("gemv_attention.cu", $"gemv_rmsnorm_attend_{FloatSuffix(q, "T5DecoderLayer")}",
            ((uint)(layer.NumHeads * (dim / GemvColumnsPerBlock)), 1, 1), GemvColumnsPerBlock * 32,
            Args().Ptr(input.Ptr).Ptr(weight.Ptr).Ptr(normWeight.Ptr).Ptr(q.Ptr).I32(weight.Shape[0]).I32(weight.Shape[1]).F32(op.Eps)
                .Ptr(queue.ErrorWord).Prefetch(Prefetch(weight.Ptr)).Ptr(layerInputs[(int)L.CrossKeys].Ptr).Ptr(layerInputs[(int)L.CrossValues].Ptr)
                .Ptr(layerInputs[(int)L.CrossMask].Ptr).Ptr(attended.Ptr).Ptr(counters).I32(memoryLength).I32(dim).F32(1f).F32(layer.MaskBias));
    }
}
