// A one-row decode step's projection and the attention that reads it, in one launch (PIXELLLM_GEMV_ATTENTION=1, T5
// decoder layers run as ops): each block runs gemv.cuh's body for its four columns, then counts itself in for its head;
// the block that completes a head (its last arrival) runs that head's attention at once, while the other heads' blocks
// still stream their weights. A decode step loses its 48 attention launches (run 11: 7-9 µs each, a fifth of a step).
// gemv_rmsnorm_qkv_attend_<t>: QkvProjectionOp (RMS-norm prologue; q, and k, v written into the caches at *y_position)
// then self-attention over the cache's y_size slots with the position bias (1, H, 1, y_size) and mask (1, 1, 1, y_size).
// Blocks are ordered by head: blocks [3·dim/4·h, 3·dim/4·(h + 1)) hold head h's q, k and v columns, so heads complete in
// launch order. gemv_rmsnorm_attend_<t>: RmsNormLinearOp (the cross-attention query) then cross-attention over lk
// encoder keys and values with their mask; blocks [dim/4·h, dim/4·(h + 1)) are head h's.
// Attention as attention_decode.cu computes it for one row: score = scale·q·k + bias, + mask_bias where the mask is 0;
// softmax (a row with every score −∞ gives NaN); p·v. What other blocks of this launch wrote (q, the new cache slot) is
// read through L2 (ld.global.cg: L1 is not coherent across SMs); the hand-off is a block barrier, then thread 0's fence
// and atomic add, as cooperative groups' grid sync does it; the last arrival resets its head's counter for the next launch.
// Limits (the host checks): one row, head dim a multiple of 4 and ≤ GA_MAX_D, keys ≤ GA_MAX_KEYS, every operand unpadded.
// The entry points wait for their predecessor first (gemv.cuh's own wait, after its first weight loads, is then a no-op):
// with dependent launch these kernels give up that overlap. Launch: grid = (H·3·dim/4 or H·dim/4, 1, 1), block =
// (32·GEMV_WARPS, 1, 1).
#include "gemv.cuh"

#define GA_MAX_KEYS 256
#define GA_MAX_D 128

PXL_DEVICE float ga_load(const float* p)
{
    float v;
    asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p));
    return v;
}

PXL_DEVICE float ga_load(const bf16* p)
{
    bf16 v;
    asm volatile("ld.global.cg.u16 %0, [%1];" : "=h"(v.bits) : "l"(p));
    return to_float(v);
}

PXL_DEVICE float ga_load(const half* p)
{
    half v;
    asm volatile("ld.global.cg.u16 %0, [%1];" : "=h"(v.bits) : "l"(p));
    return to_float(v);
}

// After every warp of the block has written its columns: whether this block is the last of `arrivals` for its counter.
PXL_DEVICE bool ga_last_arrival(i32* counter, i32 arrivals)
{
    __shared__ i32 last;
    __syncthreads();
    if (threadIdx.x == 0)
    {
        __threadfence(); // the block's outputs (ordered before by the barrier) before the count
        last = atomicAdd(counter, 1) == arrivals - 1;
        if (last) atomicExch(counter, 0);
        __threadfence(); // the count before this block's reads of the others' outputs
    }
    __syncthreads();
    return last;
}

// One head of one query row: q (dim), key j at keys + j·key_row, value j at values + j·value_row, bias and mask rows
// (element stride 1, either may be null); out (dim).
template <typename T>
PXL_DEVICE void ga_attend(const T* q, const T* keys, const T* values, const T* bias, const u8* mask, T* out, i32 lk, i32 dim,
                          i64 key_row, i64 value_row, float scale, float mask_bias)
{
    __shared__ float query[GA_MAX_D];
    __shared__ float scores[GA_MAX_KEYS];
    __shared__ float partial[GEMV_WARPS][GA_MAX_D];
    __shared__ float scratch[32];
    const i32 tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    for (i32 d = tid; d < dim; d += blockDim.x) query[d] = ga_load(q + d);
    __syncthreads();

    // Scores: a warp per key, lanes over the head dim.
    for (i32 j = warp; j < lk; j += GEMV_WARPS)
    {
        const T* key = keys + j * key_row;
        float dot = 0.0f;
        for (i32 d = lane; d < dim; d += 32) dot = fmaf(query[d], ga_load(key + d), dot);
        dot = warp_sum(dot);
        if (lane == 0)
        {
            float score = scale * dot;
            if (bias) score += to_float(bias[j]);
            if (mask && mask[j] == 0) score += mask_bias;
            scores[j] = score;
        }
    }
    __syncthreads();

    const float inv = block_softmax_numerators(scores, lk, scratch);
    if (inv != inv) // every key hidden
    {
        for (i32 d = tid; d < dim; d += blockDim.x) out[d] = from_float<T>(pxl_nan());
        return;
    }

    // p·V: warps over keys, lanes over the head dim, partials reduced through shared memory.
    float acc[GA_MAX_D / 32] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (i32 j = warp; j < lk; j += GEMV_WARPS)
    {
        const float p = scores[j];
        const T* value = values + j * value_row;
#pragma unroll
        for (int r = 0; r < GA_MAX_D / 32; r++)
        {
            const i32 d = lane + 32 * r;
            if (d < dim) acc[r] = fmaf(p, ga_load(value + d), acc[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < GA_MAX_D / 32; r++)
    {
        const i32 d = lane + 32 * r;
        if (d < dim) partial[warp][d] = acc[r];
    }
    __syncthreads();
    for (i32 d = tid; d < dim; d += blockDim.x)
    {
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < GEMV_WARPS; w++) sum += partial[w][d];
        out[d] = from_float<T>(sum * inv);
    }
}

template <typename T>
PXL_DEVICE void gemv_qkv_attend(const T* x, const T* wq, const T* wk, const T* wv, const T* bq, const T* bk, const T* bv,
                                const T* norm_weight, T* q, T* key_cache, T* value_cache, i32 n, i32 k, float norm_eps,
                                const i32* y_position, i32 y_size, i32* error, const PxlPrefetch& prefetch, const T* bias,
                                const u8* mask, T* out, i32* counters, i32 dim, float scale, float mask_bias)
{
    const i32 per_part = dim / GEMV_WARPS, per_head = 3 * per_part;
    const i32 h = blockIdx.x / per_head, r = blockIdx.x - h * per_head, part = r / per_part;
    const i32 col_block = h * per_part + (r - part * per_part);
    gemv<T, 1, true, false>(x, part == 0 ? wq : part == 1 ? wk : wv, nullptr, part == 0 ? bq : part == 1 ? bk : bv, nullptr,
                            norm_weight, part == 0 ? q : part == 1 ? key_cache : value_cache, 1, n, k, norm_eps,
                            part == 0 ? (i64)n : (i64)y_size * n, part == 0 ? nullptr : y_position, y_size, error, prefetch,
                            col_block);
    if (!ga_last_arrival(counters + h, per_head)) return;
    ga_attend<T>(q + (i64)h * dim, key_cache + (i64)h * dim, value_cache + (i64)h * dim, bias ? bias + (i64)h * y_size : nullptr,
                 mask, out + (i64)h * dim, y_size, dim, n, n, scale, mask_bias);
}

template <typename T>
PXL_DEVICE void gemv_norm_attend(const T* x, const T* w, const T* norm_weight, T* q, i32 n, i32 k, float norm_eps, i32* error,
                                 const PxlPrefetch& prefetch, const T* keys, const T* values, const u8* mask, T* out,
                                 i32* counters, i32 lk, i32 dim, float scale, float mask_bias)
{
    const i32 per_head = dim / GEMV_WARPS, h = blockIdx.x / per_head;
    gemv<T, 1, true, false>(x, w, nullptr, nullptr, nullptr, norm_weight, q, 1, n, k, norm_eps, (i64)n, nullptr, 0, error,
                            prefetch, blockIdx.x);
    if (!ga_last_arrival(counters + h, per_head)) return;
    ga_attend<T>(q + (i64)h * dim, keys + (i64)h * dim, values + (i64)h * dim, nullptr, mask, out + (i64)h * dim, lk, dim, n, n,
                 scale, mask_bias);
}

#define PXL_GEMV_ATTEND(suffix, T)                                                                                   \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) gemv_rmsnorm_qkv_attend_##suffix(                  \
        const T* x, const T* wq, const T* wk, const T* wv, const T* bq, const T* bk, const T* bv, const T* norm_weight, \
        T* q, T* key_cache, T* value_cache, i32 n, i32 k, float norm_eps, const i32* y_position, i32 y_size,          \
        i32* error, PxlPrefetch prefetch, const T* bias, const u8* mask, T* out, i32* counters, i32 dim, float scale,  \
        float mask_bias)                                                                                             \
    { pxl_dependent_launch();                                                                                        \
        gemv_qkv_attend<T>(x, wq, wk, wv, bq, bk, bv, norm_weight, q, key_cache, value_cache, n, k, norm_eps,         \
                           y_position, y_size, error, prefetch, bias, mask, out, counters, dim, scale, mask_bias);    \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) gemv_rmsnorm_attend_##suffix(                      \
        const T* x, const T* w, const T* norm_weight, T* q, i32 n, i32 k, float norm_eps, i32* error,                 \
        PxlPrefetch prefetch, const T* keys, const T* values, const u8* mask, T* out, i32* counters, i32 lk, i32 dim,  \
        float scale, float mask_bias)                                                                                \
    { pxl_dependent_launch();                                                                                        \
        gemv_norm_attend<T>(x, w, norm_weight, q, n, k, norm_eps, error, prefetch, keys, values, mask, out, counters,  \
                            lk, dim, scale, mask_bias);                                                              \
    }

PXL_GEMV_ATTEND(f32, float)
PXL_GEMV_ATTEND(bf16, bf16)
PXL_GEMV_ATTEND(f16, half)
