using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// RotaryAttentionOp (EVA02's attention blocks). With <see cref="IDeviceQueue.TensorCoreAttention"/> and a shape it has a
/// kernel for, rotary_attention.cu's one launch: q and k rotated as they load. Else the op's two steps (Rope into a
/// scratch slot, then Attention on it), the launches the graph of those ops made.
/// </summary>
internal sealed partial class CudaOps
{
    private void RotaryAttention(RotaryAttentionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var qkv = x[0];
        int batch = qkv.Shape[0], tokens = qkv.Shape[1], channels = qkv.Shape[2] / 3, dim = channels / op.NumHeads;
        if (y.Count == 0) return;
        if (queue.TensorCoreAttention && UsesRotaryMma(x, y, dim, tokens, batch))
        {
            queue.Launch("rotary_attention.cu", $"rotary_attention_d{dim}_{FloatSuffix(y, "RotaryAttention")}",
                ((uint)((tokens + MmaRowsPerBlock - 1) / MmaRowsPerBlock), (uint)op.NumHeads, (uint)batch), MmaThreads,
                Args().Ptr(qkv.Ptr).Ptr(x[1].Ptr).Ptr(x[2].Ptr).Ptr(y.Ptr).I32(op.NumHeads).I32(tokens).F32(op.Scale).I32(op.StartToken),
                MmaSharedBytes(dim, y.ElementSize, 0));
            return;
        }
        op.RunAsOps(x.ToArray(), ScratchTensors([qkv.Desc], qkv.Type)[0], y, channels, (step, inputs, output) => Dispatch(step, inputs, output));
    }

    /// <summary>
    /// Whether rotary_attention.cu serves the call: 16-bit storage throughout, a head dim it has a kernel for, the GEMM
    /// path's lengths, the batch within a grid's z, qkv 16-byte aligned (its rows are, 3·C with C a multiple of 8), y 4-byte.
    /// </summary>
    private bool UsesRotaryMma(ReadOnlySpan<DeviceTensor> x, DeviceTensor y, int dim, int tokens, int batch)
    {
        if (y.Type is not (DType.BF16 or DType.F16) || !AllStoredAs(x, y.Type) || Array.IndexOf(MmaHeadDims, dim) < 0) return false;
        return tokens >= GemmAttentionMinLength && batch <= MaxGridZ && x[0].Ptr % 16 == 0 && y.Ptr % 4 == 0
            && MmaSharedBytes(dim, y.ElementSize, 0) > 0;
    }
}
