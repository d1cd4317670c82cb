using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>
/// SwiGluNormOp (EVA02's MLP middle). With <see cref="IDeviceQueue.FusedSwiGluNorm"/> and rows of whole aligned vectors,
/// swiglu_norm.cu's one launch, a warp per row keeping h in shared memory. Else its two steps (SwiGlu into a scratch
/// slot, then LayerNorm), the launches the graph of those ops made.
/// </summary>
internal sealed partial class CudaOps
{
    /// <summary>swiglu_norm.cu's rows per block (SN_WARPS, a warp each).</summary>
    private const int SwiGluNormWarps = 8;

    private void SwiGluNorm(SwiGluNormOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        if (y.Count == 0) return;
        int width = y.Shape[-1], cols = op.Norm.NormalizedWidth(width);
        long rows = y.Count / width, shared = (long)SwiGluNormWarps * width * y.ElementSize;
        bool whole = width % (16 / y.ElementSize) == 0 && x[0].Ptr % 16 == 0 && y.Ptr % 16 == 0;
        if (queue.FusedSwiGluNorm && whole && AllStoredAs(x, y.Type)
            && shared <= queue.Limits.SharedBytesPerBlock && (rows + SwiGluNormWarps - 1) / SwiGluNormWarps <= int.MaxValue)
        {
            queue.Launch("swiglu_norm.cu", $"swiglu_norm_{FloatSuffix(y, "SwiGluNorm")}", ((uint)((rows + SwiGluNormWarps - 1) / SwiGluNormWarps), 1, 1),
                32 * SwiGluNormWarps, Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(x[2].Ptr).Ptr(y.Ptr).I64(rows).I32(width).I32(cols).F32(op.Eps),
                (int)shared);
            return;
        }
        op.RunAsOps(x.ToArray(), ScratchTensors([y.Desc], y.Type)[0], y, (step, inputs, output) => Dispatch(step, inputs, output));
    }
}
