namespace PixelLLM.Backends.Cuda.Ops;

/// <summary>attention_decode.cu: attention for a few query rows (decode steps), one block per row spread over the keys.</summary>
internal sealed partial class CudaOps
{
    /// <summary>The most query rows served by attention_decode.cu: each row gets its own block, so K/V are re-read per row.</summary>
    internal const int DecodeAttentionMaxQueries = 4;

    /// <summary>The most keys attention_decode.cu holds scores for in shared memory (DEC_MAX_KEYS).</summary>
    internal const int DecodeAttentionMaxKeys = 8192;

    /// <summary>Threads per block of attention_decode.cu (32·DEC_WARPS).</summary>
    private const int DecodeAttentionThreads = 256;

    /// <summary>
    /// Whether attention_decode.cu can stage this call's keys and values in its shared memory (with
    /// <see cref="Device.IDeviceQueue.StagedDecodeAttention"/>): scores, biases, mask and the rows together within its
    /// DEC_MAX_KEYS floats, and every row a whole number of 16-byte vectors at 16-byte aligned addresses (cp.async).
    /// </summary>
    internal static bool StagesDecodeAttention(Device.DeviceTensor k, Device.DeviceTensor v, long keyRow, long valueRow, int dim, int vdim, int lk)
    {
        int size = k.ElementSize;
        if (v.ElementSize != size || dim * size % 16 != 0 || vdim * size % 16 != 0) return false;
        if (k.Ptr % 16 != 0 || v.Ptr % 16 != 0 || keyRow * size % 16 != 0 || valueRow * size % 16 != 0) return false;
        long floats = (3L * lk + 3) / 4 * 4;
        return floats * 4 + (long)lk * (dim + vdim) * size <= DecodeAttentionMaxKeys * 4L;
    }

    /// <summary>Whether (Lq, Lk) goes to attention_decode.cu rather than the query-tiled attention.cu.</summary>
    internal static bool UsesDecodeAttention(int lq, int lk) => lq <= DecodeAttentionMaxQueries && lk <= DecodeAttentionMaxKeys;
}
