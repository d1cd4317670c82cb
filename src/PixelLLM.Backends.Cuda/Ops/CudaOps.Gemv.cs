using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>gemv.cu: the few-row products of decode steps, one pass over the weight for every row, RMS norm, bias and residual fused.</summary>
internal sealed partial class CudaOps
{
    /// <summary>The most rows gemv.cu serves (its largest row template); more rows go to cuBLAS.</summary>
    internal const int GemvMaxRows = 8;

    /// <summary>Output columns per block of gemv.cu (GEMV_WARPS: one warp per column).</summary>
    private const int GemvColumnsPerBlock = 4;

    private void Gemv(ulong input, int rows, int inFeatures, DeviceTensor weight, DeviceTensor? bias, DeviceTensor? residual, DeviceTensor y, string op,
        (DeviceTensor Weight, float Eps)? norm = null, (ulong Position, int Size)? intoCache = null, DeviceTensor? up = null)
    {
        if (up is not null && norm is null) throw new BackendException($"CUDA {op}: the gated gemv always normalises (gemv_rmsnorm_geglu)");
        if (norm is { } nw && nw.Weight.Type != y.Type)
            throw new BackendException($"CUDA {op}: norm weight stored as {nw.Weight.Type} but the output as {y.Type}; expected one type");
        if (bias is { } b && b.Type != y.Type)
            throw new BackendException($"CUDA {op}: bias stored as {b.Type} but the output as {y.Type}; expected one type");
        int outFeatures = weight.Shape[0];
        // The smallest row template that holds every row: its accumulators live in registers.
        int template = rows <= 1 ? 1 : rows <= 2 ? 2 : rows <= 4 ? 4 : GemvMaxRows;
        uint blocks = (uint)((outFeatures + GemvColumnsPerBlock - 1) / GemvColumnsPerBlock);
        string variant = up is not null ? "gemv_rmsnorm_geglu" : norm is not null ? "gemv_rmsnorm" : "gemv";
        queue.Launch("gemv.cu", $"{variant}_{FloatSuffix(y, op)}_r{template}", (blocks, 1, 1), GemvColumnsPerBlock * 32,
            Args().Ptr(input).Ptr(weight.Ptr).Ptr(up?.Ptr ?? 0).Ptr(bias?.Ptr ?? 0).Ptr(residual?.Ptr ?? 0).Ptr(norm?.Weight.Ptr ?? 0).Ptr(y.Ptr)
                .I32(rows).I32(outFeatures).I32(inFeatures).F32(norm?.Eps ?? 0f)
                .I64(intoCache is { } c ? (long)c.Size * outFeatures : outFeatures).Ptr(intoCache?.Position ?? 0).I32(intoCache?.Size ?? 0)
                .Ptr(queue.ErrorWord));
    }
}
