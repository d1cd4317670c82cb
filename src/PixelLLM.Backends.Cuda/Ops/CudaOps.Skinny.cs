using PixelLLM.Backends.Cuda.Device;
using PixelLLM.Runtime;

namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>gemm_skinny.cu: 16-bit Linears of 9–64 rows (T5's encoder and rerun GEMMs), W streamed once onto tensor cores, split-K.</summary>
internal sealed partial class CudaOps
{
    /// <summary>The most rows gemm_skinny.cu serves (SK_MAX_ROWS: four 16-row mma tiles).</summary>
    internal const int SkinnyMaxRows = 64;

    /// <summary>Output columns per block and k per chunk (SK_COLS, SK_CHUNK): N and K must be multiples.</summary>
    private const int SkinnyColumns = 64, SkinnyChunk = 64, SkinnyThreads = 128;

    /// <summary>Per column tile one counter after the layer kernels' in slot 5: N up to 1,024 tiles (65,536 columns).</summary>
    private const int SkinnyCounterBytes = 4096;

    /// <summary>The split-K partial sums (splits, M, N) in fp32: a slot no caller of <see cref="RowsTimesWeight"/> holds live data in.</summary>
    private const int SkinnyPartialSlot = 6;

    /// <summary>Whether gemm_skinny.cu takes this product (switched on, 16-bit, the shape and alignment it needs).</summary>
    private bool TakesSkinny(ulong input, long rows, int inFeatures, DeviceTensor weight, DeviceTensor? bias, DeviceTensor? residual, DeviceTensor y) =>
        queue.SkinnyGemm && rows > GemvMaxRows && rows <= SkinnyMaxRows && y.Type is DType.BF16 or DType.F16
        && weight.Type == y.Type && (bias is null || bias.Value.Type == y.Type) && (residual is null || residual.Value.Type == y.Type)
        && inFeatures % SkinnyChunk == 0 && weight.Shape[0] % SkinnyColumns == 0
        && weight.Shape[0] / SkinnyColumns <= SkinnyCounterBytes / sizeof(uint) && input % 16 == 0 && weight.Ptr % 16 == 0;

    /// <summary>
    /// Splits K so that about two blocks per SM run (column tiles × splits), each split at least one 64-wide chunk; the
    /// splits' fp32 partial sums go through slot 6 and the last block of each column tile adds them in split order.
    /// </summary>
    private void SkinnyGemm(ulong input, int rows, int inFeatures, DeviceTensor weight, DeviceTensor? bias, DeviceTensor? residual, DeviceTensor y)
    {
        var (splits, perSplit) = SkinnySplits(weight.Shape[0], inFeatures, queue.Limits.Multiprocessors);
        int outFeatures = weight.Shape[0];
        ulong partial = splits > 1 ? queue.Scratch(SkinnyPartialSlot, (long)splits * rows * outFeatures * sizeof(float)) : 0;
        ulong counters = Counters() + DecoderLayerCounterBytes;
        queue.Launch("gemm_skinny.cu", $"gemm_skinny_{FloatSuffix(y, "Linear")}", ((uint)(outFeatures / SkinnyColumns), (uint)splits, 1), SkinnyThreads,
            Args().Ptr(input).Ptr(weight.Ptr).Ptr(bias?.Ptr ?? 0).Ptr(residual?.Ptr ?? 0).Ptr(y.Ptr).Ptr(partial).Ptr(counters)
                .I32(rows).I32(outFeatures).I32(inFeatures).I32(perSplit));
    }

    /// <summary>(splits, chunks per split) for N columns and K: enough blocks for two per SM, every split non-empty.</summary>
    internal static (int Splits, int PerSplit) SkinnySplits(int outFeatures, int inFeatures, int multiprocessors)
    {
        int tiles = outFeatures / SkinnyColumns, chunks = inFeatures / SkinnyChunk;
        int wanted = Math.Clamp((2 * multiprocessors + tiles - 1) / tiles, 1, chunks);
        int perSplit = (chunks + wanted - 1) / wanted;
        return ((chunks + perSplit - 1) / perSplit, perSplit);
    }
}
