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

    /// <summary>Whether (Lq, Lk) goes to attention_decode.cu rather than the query-tiled attention.cu.</summary>
    internal static bool UsesDecodeAttention(int lq, int lk) => lq <= DecodeAttentionMaxQueries && lk <= DecodeAttentionMaxKeys;
}
