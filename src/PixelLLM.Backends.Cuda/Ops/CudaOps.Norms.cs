using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>Normalisations: layer_norm.cu (LayerNorm, LayerNorm2d), rms_norm.cu, group_norm.cu.</summary>
internal sealed partial class CudaOps
{
    private void LayerNorm(LayerNormOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int stride = y.Shape[-1], cols = op.NormalizedWidth(stride);
        if (stride == 0) return;
        int next = 1;
        ulong weight = op.HasWeight ? x[next++].Ptr : 0, bias = op.HasBias ? x[next].Ptr : 0;
        if (cols == stride && FitsWarpRows(y, cols, x[0].Ptr, weight, bias))
        {
            WarpRows("layer_norm.cu", $"layer_norm_warp_{FloatSuffix(y, "LayerNorm")}", y.Count / cols,
                Args().Ptr(x[0].Ptr).Ptr(weight).Ptr(bias).Ptr(y.Ptr).I64(y.Count / cols).I32(cols).F32(op.Eps));
            return;
        }
        Rows("layer_norm.cu", $"layer_norm_{FloatSuffix(y, "LayerNorm")}", y.Count / stride, stride,
            Args().Ptr(x[0].Ptr).Ptr(weight).Ptr(bias).Ptr(y.Ptr).I32(cols).I32(stride).F32(op.Eps));
    }

    private void LayerNorm2d(LayerNorm2dOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int channels = y.Shape[1];
        long plane = (long)y.Shape[2] * y.Shape[3], positions = y.Shape[0] * plane;
        Elements("layer_norm.cu", $"layer_norm2d_{FloatSuffix(y, "LayerNorm2d")}", positions,
            Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(x[2].Ptr).Ptr(y.Ptr).I64(positions).I32(channels).I64(plane).F32(op.Eps));
    }

    private void RmsNorm(RmsNormOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int cols = y.Shape[-1];
        if (cols == 0) return;
        if (FitsWarpRows(y, cols, x[0].Ptr, x[1].Ptr))
        {
            WarpRows("rms_norm.cu", $"rms_norm_warp_{FloatSuffix(y, "RmsNorm")}", y.Count / cols,
                Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(y.Ptr).I64(y.Count / cols).I32(cols).F32(op.Eps));
            return;
        }
        Rows("rms_norm.cu", $"rms_norm_{FloatSuffix(y, "RmsNorm")}", y.Count / cols, cols,
            Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(y.Ptr).I32(cols).F32(op.Eps));
    }

    private void GroupNorm(GroupNormOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int batch = y.Shape[0], channels = y.Shape[-1];
        if (y.Count == 0) return;
        long positions = y.Count / batch / channels;
        Rows("group_norm.cu", $"group_norm_{FloatSuffix(y, "GroupNorm")}", (long)batch * op.Groups, 1024,
            Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(x[2].Ptr).Ptr(y.Ptr).I64(positions).I32(channels).I32(op.Groups).F32(op.Eps), maxThreads: 256);
    }
}
