using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>roi_align.cu: multi-level RoIAlign, the maps passed by address in one launch.</summary>
internal sealed partial class CudaOps
{
    private void RoiAlign(RoiAlignOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int mapCount = x.Length - 2;
        if (mapCount > Dims8.MaxRank)
            throw new BackendException($"CUDA RoiAlign: {mapCount} maps exceed the kernel's {Dims8.MaxRank}");
        Span<long> addresses = stackalloc long[mapCount], heights = stackalloc long[mapCount], widths = stackalloc long[mapCount];
        for (int m = 0; m < mapCount; m++)
        {
            var map = x[m + 2];
            addresses[m] = (long)map.Ptr;
            heights[m] = map.Shape[1];
            widths[m] = map.Shape[2];
        }
        Elements("roi_align.cu", $"roi_align_{FloatSuffix(y, "RoiAlign")}", y.Count, Args().Ptr(x[0].Ptr).Ptr(x[1].Ptr).Ptr(y.Ptr)
            .Dims(Dims8.From(addresses)).Dims(Dims8.From(heights)).Dims(Dims8.From(widths))
            .I64(y.Count).I32(mapCount).I32(op.OutputSize).I32(op.SamplingRatio).I32(y.Shape[3]));
    }
}
