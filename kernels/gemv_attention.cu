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
// Each kernel takes its gemv.cu twin's parameters (one row), then the attention's: keys and values (head h at + h·dim,
// rows n apart), the bias (H, lk) or null, the mask row, the output row, the per-head counters, lk, the head dim.
// Limits (the host checks): one row, head dim a multiple of 4 and ≤ PXL_ROW_MAX_D, keys ≤ GA_MAX_KEYS, operands unpadded.
// The entry points wait for their predecessor first (gemv.cuh's own wait, after its first weight loads, is then a no-op):
// with dependent launch these kernels give up that overlap. Launch: grid = (H·3·dim/4 or H·dim/4, 1, 1), block =
// (32·GEMV_WARPS, 1, 1).
#include "gemv.cuh"
#include "attention_row.cuh"

#define GA_MAX_KEYS 256
#define GA_STAGE_BYTES 16384                                  // a head's keys and values staged, where they fit
#define GA_BATCH (GA_STAGE_BYTES / 16 / (GEMV_WARPS * 32))    // 16-byte loads a thread issues at once to stage them

PXL_DEVICE float ga_load(const float* p)
{
#ifdef PXL_EMULATION
    return pxlemu_load_volatile(p);
#else
    float v;
    asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p));
    return v;
#endif
}

PXL_DEVICE float ga_load(const bf16* p)
{
    bf16 v;
#ifdef PXL_EMULATION
    v = pxlemu_load_volatile(p);
#else
    asm volatile("ld.global.cg.u16 %0, [%1];" : "=h"(v.bits) : "l"(p));
#endif
    return to_float(v);
}

PXL_DEVICE float ga_load(const half* p)
{
    half v;
#ifdef PXL_EMULATION
    v = pxlemu_load_volatile(p);
#else
    asm volatile("ld.global.cg.u16 %0, [%1];" : "=h"(v.bits) : "l"(p));
#endif
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

// The scores (a warp per key, lanes over the head dim), then attention_row.cuh's softmax and p·V, every key and value
// element read by load(pointer).
template <typename T, typename Load>
PXL_DEVICE void ga_attend_rows(const float* query, float* scores, float (*partial)[PXL_ROW_MAX_D], float* scratch,
                               const T* keys, const T* values, const T* bias, const u8* mask, T* out, i32 lk, i32 dim,
                               i64 key_row, i64 value_row, float scale, float mask_bias, Load load)
{
    const i32 warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (i32 j = warp; j < lk; j += GEMV_WARPS)
    {
        const T* key = keys + j * key_row;
        float dot = 0.0f;
        for (i32 d = lane; d < dim; d += 32) dot = fmaf(query[d], load(key + d), dot);
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
    attention_row_values(scores, lk, values, value_row, dim, partial, scratch, out, load);
}

PXL_DEVICE pxl_vec16 ga_load16(const void* p)
{
#ifdef PXL_EMULATION
    return pxlemu_load_volatile(reinterpret_cast<const pxl_vec16*>(p));
#else
    pxl_vec16 v;
    asm volatile("ld.global.cg.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.w[0]), "=r"(v.w[1]), "=r"(v.w[2]), "=r"(v.w[3]) : "l"(p));
    return v;
#endif
}

// The head's keys and values (lk rows of dim each) copied into `stage` (keys, then values, rows packed) with every
// 16-byte load of a thread issued before the first store: one L2 round trip for all of them, where the scores and p·V
// loops below, reading in place, wait one per key or two (a warp's keys follow each other, and each waits for its
// loads before its reduction). Only where everything fits GA_STAGE_BYTES in whole aligned vectors (ga_stages).
template <typename T>
PXL_DEVICE void ga_stage(pxl_vec16* stage, const T* keys, const T* values, i32 lk, i32 dim, i64 key_row, i64 value_row)
{
    const i32 per_row = dim * (i32)sizeof(T) / 16, total = 2 * lk * per_row;
    pxl_vec16 v[GA_BATCH];
#pragma unroll
    for (int u = 0; u < GA_BATCH; u++)
    {
        const i32 i = threadIdx.x + u * blockDim.x, row = i / per_row, part = i - row * per_row;
        const T* from = row < lk ? keys + row * key_row : values + (row - lk) * value_row;
        if (i < total) v[u] = ga_load16(from + part * (16 / (i32)sizeof(T)));
    }
#pragma unroll
    for (int u = 0; u < GA_BATCH; u++)
    {
        const i32 i = threadIdx.x + u * blockDim.x;
        if (i < total) stage[i] = v[u];
    }
}

template <typename T>
PXL_DEVICE bool ga_stages(const T* keys, const T* values, i32 lk, i32 dim, i64 key_row, i64 value_row)
{
    const i64 row_bytes = (i64)dim * sizeof(T);
    return 2 * lk * row_bytes <= GA_STAGE_BYTES && row_bytes % 16 == 0 && (key_row * (i64)sizeof(T)) % 16 == 0
           && (value_row * (i64)sizeof(T)) % 16 == 0 && ((u64)keys & 15) == 0 && ((u64)values & 15) == 0;
}

// One head of one query row: q (dim), key j at keys + j·key_row, value j at values + j·value_row, bias and mask rows
// (element stride 1, either may be null); out (dim). Keys and values are staged in shared memory where they fit.
template <typename T>
PXL_DEVICE void ga_attend(const T* q, const T* keys, const T* values, const T* bias, const u8* mask, T* out, i32 lk, i32 dim,
                          i64 key_row, i64 value_row, float scale, float mask_bias)
{
    __shared__ float query[PXL_ROW_MAX_D];
    __shared__ float scores[GA_MAX_KEYS];
    __shared__ float partial[GEMV_WARPS][PXL_ROW_MAX_D];
    __shared__ float scratch[32];
    __shared__ pxl_vec16 stage[GA_STAGE_BYTES / 16];
    const bool staged = ga_stages(keys, values, lk, dim, key_row, value_row); // block-uniform
    const float own_query = threadIdx.x < dim ? ga_load(q + threadIdx.x) : 0.0f; // in flight with the staging loads
    if (staged) ga_stage(stage, keys, values, lk, dim, key_row, value_row);
    for (i32 d = threadIdx.x; d < dim; d += blockDim.x) query[d] = d == threadIdx.x ? own_query : ga_load(q + d);
    __syncthreads();
    if (staged)
    {
        const T* staged_keys = reinterpret_cast<const T*>(stage);
        ga_attend_rows(query, scores, partial, scratch, staged_keys, staged_keys + (i64)lk * dim, bias, mask, out, lk, dim,
                       dim, dim, scale, mask_bias, [](const T* p) { return to_float(*p); });
    }
    else
        ga_attend_rows(query, scores, partial, scratch, keys, values, bias, mask, out, lk, dim, key_row, value_row, scale,
                       mask_bias, [](const T* p) { return ga_load(p); });
}

// After a block's projection columns: the head's last arrival runs that head's attention (the bias row h of (H, lk)).
template <typename T>
PXL_DEVICE void ga_tail(i32 h, i32 arrivals, const T* q, i32 n, const T* keys, const T* values, const T* att_bias,
                        const u8* att_mask, T* out, i32* counters, i32 lk, i32 dim, float scale, float mask_bias)
{
    if (!ga_last_arrival(counters + h, arrivals)) return;
    const i64 at = (i64)h * dim;
    ga_attend<T>(q + at, keys + at, values + at, att_bias ? att_bias + (i64)h * lk : nullptr, att_mask, out + at, lk, dim, n, n,
                 scale, mask_bias);
}

// Each kernel takes its gemv.cu twin's parameters, then the attention's (the same for both).
#define PXL_ATTEND_PARAMS(T)                                                                                         \
    const T *keys, const T *values, const T *att_bias, const u8 *att_mask, T *out, i32 *counters, i32 lk, i32 dim,    \
        float scale, float mask_bias
#define PXL_ATTEND_ARGS keys, values, att_bias, att_mask, out, counters, lk, dim, scale, mask_bias

#define PXL_GEMV_ATTEND(suffix, T)                                                                                   \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) gemv_rmsnorm_qkv_attend_##suffix(                  \
        const T* x, const T* wq, const T* wk, const T* wv, const T* bq, const T* bk, const T* bv, const T* norm_weight, \
        T* q, T* key_cache, T* value_cache, i32 rows, i32 n, i32 k, float norm_eps, const i32* y_position, i32 y_size,\
        i32* error, PxlPrefetch prefetch, PXL_ATTEND_PARAMS(T))                                                      \
    { pxl_dependent_launch();                                                                                        \
        const i32 per_part = dim / GEMV_WARPS, per_head = 3 * per_part;                                              \
        const i32 h = blockIdx.x / per_head, r = blockIdx.x - h * per_head, part = r / per_part;                      \
        gemv<T, 1, true, false>(x, part == 0 ? wq : part == 1 ? wk : wv, nullptr, part == 0 ? bq : part == 1 ? bk : bv, \
                                nullptr, norm_weight, part == 0 ? q : part == 1 ? key_cache : value_cache, rows, n, k,  \
                                norm_eps, part == 0 ? (i64)n : (i64)y_size * n, part == 0 ? nullptr : y_position, y_size, \
                                error, prefetch, h * per_part + (r - part * per_part));                               \
        ga_tail<T>(h, per_head, q, n, PXL_ATTEND_ARGS);                                                              \
    }                                                                                                                \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) gemv_rmsnorm_attend_##suffix(                      \
        const T* x, const T* w, const T* w_up, const T* bias, const T* residual, const T* norm_weight, T* y, i32 rows,  \
        i32 n, i32 k, float norm_eps, i64 y_row_stride, const i32* y_position, i32 y_size, i32* error,              \
        PxlPrefetch prefetch, PXL_ATTEND_PARAMS(T))                                                                  \
    { pxl_dependent_launch();                                                                                        \
        gemv<T, 1, true, false>(x, w, w_up, bias, residual, norm_weight, y, rows, n, k, norm_eps, y_row_stride,       \
                                y_position, y_size, error, prefetch, blockIdx.x);                                     \
        ga_tail<T>(blockIdx.x / (dim / GEMV_WARPS), dim / GEMV_WARPS, y, n, PXL_ATTEND_ARGS);                        \
    }

PXL_GEMV_ATTEND(f32, float)
PXL_GEMV_ATTEND(bf16, bf16)
PXL_GEMV_ATTEND(f16, half)
