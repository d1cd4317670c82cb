// The middle pass of AttentionOp's GEMM path (CudaOps.Attention.cs, taken for long sequences): cuBLAS computes the
// scores s = scale·q·kᵀ in f32 and later p·v; this kernel turns one batch element's scores into probabilities p in the
// storage type. Same rules as attention.cu: + bias (f32-declared, stored like p, read through broadcast strides over
// b, h, query, key, or SAM's decomposed terms: attention_bias in prelude.cuh), + mask_bias once where the mask is 0 or
// causality hides the key (query i sees keys j ≤ i + Lk − Lq),
// fp32 softmax; a row whose scores are all −∞ comes out NaN, like the reference.
// s: (Z, H, Lq, lds) f32, p: (Z, H, Lq, ldp) for Z = gridDim.z consecutive batch elements from b on (one launch for all
// the windows of a windowed attention); lds/ldp ≥ Lk are padded row strides (aligned rows keep cuBLAS on its fast paths).
// Launch: grid = (Lq, H, Z), block = 32·k (k in 1..8).
// attention_softmax_w<V>_<t> (PIXELLLM_WARP_SOFTMAX=1, rows of at most 32·V keys): one warp per row, SOFTMAX_WARPS rows
// a block, the row's logits held in registers (V a lane) between the passes and reduced with shuffles. The block-per-row
// kernel reads each row three times and crosses four barriers for its two reductions; at ViT lengths (196-730 keys) a
// row is a few KB, so run 11 had it latency-bound: ~50 us a call, 0.6 TB/s, 2.9 ms of SAM and EVA02 together.
// Launch: grid = (ceil(Lq / SOFTMAX_WARPS), H, Z), block = 32·SOFTMAX_WARPS.
#include "prelude.cuh"

#define SOFTMAX_WARPS 8

// Where query row qi of head blockIdx.y of batch element b + blockIdx.z starts in the scores, the probabilities, the bias
// and the mask (elements), and how many keys causality leaves it. Offsets, not pointers: the kernels add them to their
// __restrict__ parameters, which keeps the scores on the read-only path (pointers handed back lose it).
struct SoftmaxRow
{
    i64 score, prob, bias, mask;
    i32 visible;
};

PXL_DEVICE SoftmaxRow softmax_row(i64 b, i32 qi, i32 lq, i32 lk, i32 lds, i32 ldp, i32 causal, const Dims8& bs, const Dims8& ms)
{
    const i32 h = blockIdx.y;
    const i64 hz = (i64)blockIdx.z * gridDim.y + h; // this batch element's head h in the scratch
    b += blockIdx.z;
    return {(hz * lq + qi) * lds, (hz * lq + qi) * ldp, b * bs.v[0] + h * bs.v[1] + (i64)qi * bs.v[2],
            b * ms.v[0] + h * ms.v[1] + (i64)qi * ms.v[2], causal ? min(max(qi + lk - lq + 1, 0), lk) : lk};
}

// Key j's logit: its score + the bias + mask_bias where the mask is 0 or causality hides the key.
template <typename T>
PXL_DEVICE float attention_logit(const float* s_row, i32 j, const T* bias_row, const Dims8& bs, const u8* mask_row,
                                 i64 mask_key_stride, i32 visible, float mask_bias)
{
    float v = s_row[j];
    if (bias_row) v += attention_bias(bias_row, j, bs);
    if (j >= visible || (mask_row && mask_row[j * mask_key_stride] == 0)) v += mask_bias;
    return v;
}

template <typename T>
PXL_DEVICE void attention_softmax_row(const float* __restrict__ s, T* __restrict__ p, const T* __restrict__ bias,
                                      const u8* __restrict__ mask, i64 b, i32 lq, i32 lk, i32 lds, i32 ldp, float mask_bias,
                                      i32 causal, const Dims8& bs, const Dims8& ms)
{
    __shared__ float scratch[32];
    const SoftmaxRow r = softmax_row(b, blockIdx.x, lq, lk, lds, ldp, causal, bs, ms);
    const float* s_row = s + r.score;
    T* p_row = p + r.prob;
    const T* bias_row = bias ? bias + r.bias : nullptr;
    const u8* mask_row = mask ? mask + r.mask : nullptr;

    float max = pxl_neg_inf();
    for (i32 j = threadIdx.x; j < lk; j += blockDim.x)
        max = fmaxf(max, attention_logit(s_row, j, bias_row, bs, mask_row, ms.v[3], r.visible, mask_bias));
    max = block_max(max, scratch);
    if (max == pxl_neg_inf())
    {
        for (i32 j = threadIdx.x; j < lk; j += blockDim.x) p_row[j] = from_float<T>(pxl_nan());
        return;
    }
    float sum = 0.0f;
    for (i32 j = threadIdx.x; j < lk; j += blockDim.x)
        sum += expf(attention_logit(s_row, j, bias_row, bs, mask_row, ms.v[3], r.visible, mask_bias) - max);
    const float inv_sum = 1.0f / block_sum(sum, scratch);
    for (i32 j = threadIdx.x; j < lk; j += blockDim.x)
        p_row[j] = from_float<T>(expf(attention_logit(s_row, j, bias_row, bs, mask_row, ms.v[3], r.visible, mask_bias) - max) * inv_sum);
}

template <typename T, int V>
PXL_DEVICE void attention_softmax_warp(const float* __restrict__ s, T* __restrict__ p, const T* __restrict__ bias,
                                       const u8* __restrict__ mask, i64 b, i32 lq, i32 lk, i32 lds, i32 ldp, float mask_bias,
                                       i32 causal, const Dims8& bs, const Dims8& ms)
{
    const i32 lane = threadIdx.x & 31, qi = blockIdx.x * SOFTMAX_WARPS + (threadIdx.x >> 5);
    if (qi >= lq) return; // warp-uniform, and no barrier follows
    const SoftmaxRow r = softmax_row(b, qi, lq, lk, lds, ldp, causal, bs, ms);
    const float* s_row = s + r.score;
    T* p_row = p + r.prob;
    const T* bias_row = bias ? bias + r.bias : nullptr;
    const u8* mask_row = mask ? mask + r.mask : nullptr;

    float x[V];
    float max = pxl_neg_inf();
#pragma unroll
    for (int i = 0; i < V; i++)
    {
        const i32 j = lane + 32 * i;
        x[i] = j < lk ? attention_logit(s_row, j, bias_row, bs, mask_row, ms.v[3], r.visible, mask_bias) : pxl_neg_inf();
        max = fmaxf(max, x[i]);
    }
    max = warp_max(max);
    if (max == pxl_neg_inf())
    {
#pragma unroll
        for (int i = 0; i < V; i++)
            if (lane + 32 * i < lk) p_row[lane + 32 * i] = from_float<T>(pxl_nan());
        return;
    }
    float sum = 0.0f;
#pragma unroll
    for (int i = 0; i < V; i++)
    {
        x[i] = lane + 32 * i < lk ? expf(x[i] - max) : 0.0f;
        sum += x[i];
    }
    const float inv_sum = 1.0f / warp_sum(sum);
#pragma unroll
    for (int i = 0; i < V; i++)
        if (lane + 32 * i < lk) p_row[lane + 32 * i] = from_float<T>(x[i] * inv_sum);
}

#define PXL_ATTENTION_SOFTMAX(suffix, T)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) attention_softmax_##suffix(                                         \
        const float* s, T* p, const T* bias, const u8* mask, i64 b, i32 lq, i32 lk, i32 lds, i32 ldp, float mask_bias,    \
        i32 causal, Dims8 bias_strides, Dims8 mask_strides)                                                               \
    { pxl_dependent_launch();                                                                                             \
        attention_softmax_row<T>(s, p, bias, mask, b, lq, lk, lds, ldp, mask_bias, causal, bias_strides, mask_strides);  \
    }

PXL_ATTENTION_SOFTMAX(f32, float)
PXL_ATTENTION_SOFTMAX(bf16, bf16)
PXL_ATTENTION_SOFTMAX(f16, half)

// Launch bounds with one block per SM named: without it ptxas capped the sm_80 w24 and w32 kernels at 64 and 80
// registers, and they spilled.
#define PXL_ATTENTION_SOFTMAX_WARP(suffix, T, V)                                                                          \
    extern "C" __global__ void __launch_bounds__(32 * SOFTMAX_WARPS, 1) attention_softmax_w##V##_##suffix(                   \
        const float* s, T* p, const T* bias, const u8* mask, i64 b, i32 lq, i32 lk, i32 lds, i32 ldp, float mask_bias,    \
        i32 causal, Dims8 bias_strides, Dims8 mask_strides)                                                               \
    { pxl_dependent_launch();                                                                                             \
        attention_softmax_warp<T, V>(s, p, bias, mask, b, lq, lk, lds, ldp, mask_bias, causal, bias_strides, mask_strides); \
    }

#define PXL_ATTENTION_SOFTMAX_WARP_ALL(V)                                                                                 \
    PXL_ATTENTION_SOFTMAX_WARP(f32, float, V) PXL_ATTENTION_SOFTMAX_WARP(bf16, bf16, V) PXL_ATTENTION_SOFTMAX_WARP(f16, half, V)

PXL_ATTENTION_SOFTMAX_WARP_ALL(8)
PXL_ATTENTION_SOFTMAX_WARP_ALL(16)
PXL_ATTENTION_SOFTMAX_WARP_ALL(24)
PXL_ATTENTION_SOFTMAX_WARP_ALL(32)
