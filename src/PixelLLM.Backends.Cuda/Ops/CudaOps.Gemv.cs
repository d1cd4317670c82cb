using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;
using PixelLLM.Runtime.Ops;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>gemv.cu: the few-row products of decode steps, one pass over the weight for every row, RMS norm, bias and residual fused.</summary>
internal sealed partial class CudaOps
{
    /// <summary>The most rows gemv.cu serves (its largest row template); more rows go to cuBLAS.</summary>
    internal const int GemvMaxRows = 8;

    /// <summary>Output columns per block of gemv.cu (GEMV_WARPS: one warp per column).</summary>
    private const int GemvColumnsPerBlock = 4;

    private void Gemv(ulong input, int rows, int inFeatures, DeviceTensor weight, DeviceTensor? bias, DeviceTensor? residual, DeviceTensor y, string op,
        (DeviceTensor Weight, float Eps)? norm = null, DeviceTensor? up = null)
    {
        var args = GemvArgs(input, rows, inFeatures, weight, bias, residual, y, op, norm, up);
        string variant = up is not null ? "gemv_rmsnorm_geglu" : norm is not null ? "gemv_rmsnorm" : "gemv";
        queue.Launch("gemv.cu", $"{variant}_{FloatSuffix(y, op)}_r{RowTemplate(rows)}", (ColumnBlocks(weight.Shape[0]), 1, 1), GemvColumnsPerBlock * 32, args);
    }

    /// <summary>gemv.cu's arguments for one product (gemv_attention.cu's cross kernel takes the same, then its own).</summary>
    private KernelArgs GemvArgs(ulong input, int rows, int inFeatures, DeviceTensor weight, DeviceTensor? bias, DeviceTensor? residual, DeviceTensor y,
        string op, (DeviceTensor Weight, float Eps)? norm, DeviceTensor? up)
    {
        if (up is not null && norm is null) throw new BackendException($"CUDA {op}: the gated gemv always normalises (gemv_rmsnorm_geglu)");
        if (norm is { } nw && nw.Weight.Type != y.Type)
            throw new BackendException($"CUDA {op}: norm weight stored as {nw.Weight.Type} but the output as {y.Type}; expected one type");
        if (bias is { } b && b.Type != y.Type)
            throw new BackendException($"CUDA {op}: bias stored as {b.Type} but the output as {y.Type}; expected one type");
        int outFeatures = weight.Shape[0];
        return Args().Ptr(input).Ptr(weight.Ptr).Ptr(up?.Ptr ?? 0).Ptr(bias?.Ptr ?? 0).Ptr(residual?.Ptr ?? 0).Ptr(norm?.Weight.Ptr ?? 0).Ptr(y.Ptr)
            .I32(rows).I32(outFeatures).I32(inFeatures).F32(norm?.Eps ?? 0f).I64(outFeatures).Ptr(0).I32(0).Ptr(queue.ErrorWord)
            .Prefetch(Prefetch(weight.Ptr));
    }

    /// <summary>
    /// gemv_[rmsnorm_]qkv: QkvProjectionOp's three products in one launch, grid.y = 0 (q), 1 (key cache), 2 (value cache);
    /// the norm variant for T5's pre-norm, biases (or none) either way.
    /// </summary>
    private void GemvQkv(QkvProjectionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        int rows = x[4].Shape[0], outFeatures = x[4].Shape[2];
        string variant = op.HasNorm ? "gemv_rmsnorm_qkv" : "gemv_qkv";
        queue.Launch("gemv.cu", $"{variant}_{FloatSuffix(y, "QkvProjection")}_r{RowTemplate(rows)}", (ColumnBlocks(outFeatures), 3, 1),
            GemvColumnsPerBlock * 32, QkvArgs(op, x, y));
    }

    /// <summary>gemv.cu's arguments for the three products (gemv_attention.cu's qkv kernel takes the same, then its own).</summary>
    private KernelArgs QkvArgs(QkvProjectionOp op, ReadOnlySpan<DeviceTensor> x, DeviceTensor y)
    {
        var (input, keys, values, position) = (x[0], x[4], x[5], x[6]);
        for (int i = 1; i < x.Length; i++)
            if (i != 6 && x[i].Type != y.Type)
                throw new BackendException($"CUDA QkvProjection: input {i} {x[i].Desc} stored as {x[i].Type} but q as {y.Type}; expected one type");
        int rows = keys.Shape[0], size = keys.Shape[1], outFeatures = keys.Shape[2], inFeatures = x[1].Shape[1];
        Span<ulong> biases = stackalloc ulong[3];
        for (int p = 0; op.HasBias && p < 3; p++) biases[p] = x[op.BiasInput(p)].Ptr;
        return Args().Ptr(input.Ptr).Ptr(x[1].Ptr).Ptr(x[2].Ptr).Ptr(x[3].Ptr).Ptr(biases[0]).Ptr(biases[1]).Ptr(biases[2])
            .Ptr(op.HasNorm ? x[op.NormInput].Ptr : 0).Ptr(y.Ptr).Ptr(keys.Ptr).Ptr(values.Ptr)
            .I32(rows).I32(outFeatures).I32(inFeatures).F32(op.Eps).Ptr(position.Ptr).I32(size).Ptr(queue.ErrorWord)
            .Prefetch(Prefetch(x[1].Ptr));
    }

    /// <summary>
    /// The decoder weights a decode step's stack reads in order, while its layers run as ops with
    /// <see cref="IDeviceQueue.PrefetchL2Bytes"/> set (else null): each GEMV asks L2 for its share of the ones ahead.
    /// </summary>
    private WeightStream? weightStream;

    /// <summary>What the GEMV reading <paramref name="firstWeight"/> prefetches: nothing outside a prefetching stack.</summary>
    private PrefetchRanges Prefetch(ulong firstWeight) => weightStream?.For(firstWeight) ?? default;

    /// <summary>The smallest row template that holds every row: its accumulators live in registers.</summary>
    private static int RowTemplate(int rows) => rows <= 1 ? 1 : rows <= 2 ? 2 : rows <= 4 ? 4 : GemvMaxRows;

    private static uint ColumnBlocks(int outFeatures) => (uint)((outFeatures + GemvColumnsPerBlock - 1) / GemvColumnsPerBlock);
}
