// The end of a one-row attention both decode kernels share (attention_decode.cu; gemv_attention.cu's tail): once a
// block has written the row's logits into shared memory, the softmax in place and p·V into the output row.
#pragma once
#include "prelude.cuh"

#define PXL_ROW_MAX_D 128
#define PXL_ROW_VALUE_BATCH 4 // keys a warp loads the values of at once

// The softmax numerators of scores[0, n) in place, exp(s − max), block-wide (every thread calls it); returns 1 / their
// sum, or NaN when every score is −∞ (nothing written). The scores are visible to the whole block on return.
PXL_DEVICE float block_softmax_numerators(float* scores, i32 n, float* scratch)
{
    float local_max = pxl_neg_inf();
    for (i32 j = threadIdx.x; j < n; j += blockDim.x) local_max = fmaxf(local_max, scores[j]);
    const float row_max = block_max(local_max, scratch);
    if (row_max == pxl_neg_inf()) return pxl_nan(); // block-uniform
    float local_sum = 0.0f;
    for (i32 j = threadIdx.x; j < n; j += blockDim.x)
    {
        const float p = expf(scores[j] - row_max);
        scores[j] = p;
        local_sum += p;
    }
    const float inv = 1.0f / block_sum(local_sum, scratch);
    __syncthreads(); // block_sum's barriers already order the stores above; this one says so
    return inv;
}

// A scoring pass of the one-row attentions (attention_decode.cu, the layer kernels' attention phases): groups of
// PXL_ROW_KEY_LANES lanes score one key each, lane `sub` taking dims sub, sub + PXL_ROW_KEY_LANES, … A lane's first
// PXL_ROW_KEY_AHEAD elements (head dims up to 64) are loaded into registers before any product, so the pass waits one
// memory round trip; row_key_dot then multiplies them and reads any further ones in place, always in dim order.
#define PXL_ROW_KEY_LANES 8
#define PXL_ROW_KEY_AHEAD 8

template <typename T>
PXL_DEVICE void row_key_ahead(float (&element)[PXL_ROW_KEY_AHEAD], const T* key, bool valid, i32 dim, i32 sub)
{
#pragma unroll
    for (int i = 0; i < PXL_ROW_KEY_AHEAD; i++)
    {
        const i32 d = sub + PXL_ROW_KEY_LANES * i;
        element[i] = valid && d < dim ? to_float(key[d]) : 0.0f;
    }
}

template <typename T>
PXL_DEVICE float row_key_dot(const float (&element)[PXL_ROW_KEY_AHEAD], const float* query, const T* key, bool valid, i32 dim,
                             i32 sub)
{
    float dot = 0.0f;
    if (!valid) return dot;
#pragma unroll
    for (int i = 0; i < PXL_ROW_KEY_AHEAD; i++)
        if (sub + PXL_ROW_KEY_LANES * i < dim) dot = fmaf(query[sub + PXL_ROW_KEY_LANES * i], element[i], dot);
    for (i32 d = sub + PXL_ROW_KEY_LANES * PXL_ROW_KEY_AHEAD; d < dim; d += PXL_ROW_KEY_LANES) dot = fmaf(query[d], to_float(key[d]), dot);
    return dot;
}

// This warp's share of p·V: keys first, first + step, … (p = scores[j]) into acc (value dims d = lane + 32·r), the keys
// PXL_ROW_VALUE_BATCH at a time with their values loaded before the first product, so a batch waits one memory round
// trip; products in key order.
template <typename T, typename Load>
PXL_DEVICE void row_values_accumulate(const float* scores, i32 lk, const T* values, i64 value_row, i32 vdim, i32 first,
                                      i32 step, float (&acc)[PXL_ROW_MAX_D / 32], Load load)
{
    const i32 lane = threadIdx.x & 31;
    for (; first < lk; first += PXL_ROW_VALUE_BATCH * step)
    {
        float element[PXL_ROW_VALUE_BATCH][PXL_ROW_MAX_D / 32];
#pragma unroll
        for (int u = 0; u < PXL_ROW_VALUE_BATCH; u++)
        {
            const i32 j = first + u * step;
            const T* value = values + min(j, lk - 1) * value_row;
#pragma unroll
            for (i32 r = 0; r < PXL_ROW_MAX_D / 32; r++)
            {
                const i32 d = lane + 32 * r;
                element[u][r] = j < lk && d < vdim ? load(value + d) : 0.0f;
            }
        }
#pragma unroll
        for (int u = 0; u < PXL_ROW_VALUE_BATCH; u++)
        {
            const i32 j = first + u * step;
            if (j >= lk) break; // warp-uniform
            const float p = scores[j];
#pragma unroll
            for (i32 r = 0; r < PXL_ROW_MAX_D / 32; r++)
                if (lane + 32 * r < vdim) acc[r] = fmaf(p, element[u][r], acc[r]);
        }
    }
}

// Block-wide, after the logits scores[0, lk) are written and a barrier: out (vdim ≤ PXL_ROW_MAX_D) = softmax · V, value
// j at values + j·value_row, each element read by load(pointer); a NaN row when every key is hidden. Warps split the
// keys, lanes the value dims (d = lane + 32·r); the warps' partials (blockDim / 32 rows of `partial`) are summed through
// shared memory.
template <typename T, typename Load>
PXL_DEVICE void attention_row_values(float* scores, i32 lk, const T* values, i64 value_row, i32 vdim,
                                     float (*partial)[PXL_ROW_MAX_D], float* scratch, T* out, Load load)
{
    const i32 tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, warps = blockDim.x >> 5;
    const float inv = block_softmax_numerators(scores, lk, scratch);
    if (inv != inv) // every key hidden
    {
        for (i32 d = tid; d < vdim; d += blockDim.x) out[d] = from_float<T>(pxl_nan());
        return;
    }
    float acc[PXL_ROW_MAX_D / 32] = {0.0f, 0.0f, 0.0f, 0.0f};
    row_values_accumulate(scores, lk, values, value_row, vdim, warp, warps, acc, load);
#pragma unroll
    for (i32 r = 0; r < PXL_ROW_MAX_D / 32; r++)
    {
        const i32 d = lane + 32 * r;
        if (d < vdim) partial[warp][d] = acc[r];
    }
    __syncthreads();
    for (i32 d = tid; d < vdim; d += blockDim.x)
    {
        float sum = 0.0f;
        for (i32 w = 0; w < warps; w++) sum += partial[w][d];
        out[d] = from_float<T>(sum * inv);
    }
}
