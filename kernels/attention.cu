// AttentionOp, flash style: scores are never materialised. q (B, Lq, H·D), k (B, Lk, H·D), v (B, Lk, H·Dv) →
// y (B, Lq, H·Dv), token-major so projections feed it without permutes. q, k and v rows are q_row, k_row, v_row elements
// apart (H·D, or 3·H·D when they are read in place from one packed q | k | v projection).
// score = scale·q·k [+ bias] [+ mask_bias once where the mask is 0 or causality hides the key]; causal query i sees
// keys j ≤ i + (Lk − Lq). bias (f32-declared, stored like q) and mask (u8) are read through broadcast strides
// (element strides over b, h, query, key; 0 on broadcast dims), so nothing is expanded. A row whose scores are all −∞
// comes out NaN, like the reference. fp32 online softmax whatever the storage type.
// Layout: one warp per query row, ATT_WARPS rows per block; keys stream through shared memory ATT_KEYS at a time; lane
// l scores key l of a tile, then owns output dims l, l+32, l+64, l+96. Lk = 0 is the host's job (zeros, no launch).
// Launch: grid = (ceil(Lq / ATT_WARPS), H, B), block = (32·ATT_WARPS, 1, 1); D and Dv ≤ ATT_MAX_D.
#include "prelude.cuh"

#define ATT_WARPS 4
#define ATT_KEYS 32
#define ATT_MAX_D 128

template <typename T>
PXL_DEVICE void attention_block(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ bias,
                                const u8* __restrict__ mask, T* __restrict__ y, i32 heads, i32 lq, i32 lk, i32 dim, i32 vdim,
                                i32 q_row, i32 k_row, i32 v_row, float scale, float mask_bias, i32 causal, const Dims8& bias_strides,
                                const Dims8& mask_strides)
{
    // Rows padded by one float so lane l reading row l hits bank (l + d) % 32: no conflicts.
    __shared__ float keys[ATT_KEYS][ATT_MAX_D + 1];
    __shared__ float values[ATT_KEYS][ATT_MAX_D + 1];
    __shared__ float queries[ATT_WARPS][ATT_MAX_D];
    const i32 warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const i32 h = blockIdx.y;
    const i64 b = blockIdx.z;
    const i32 qi = blockIdx.x * ATT_WARPS + warp;
    const bool active = qi < lq;

    if (active)
        for (i32 d = lane; d < dim; d += 32) queries[warp][d] = to_float(q[(b * lq + qi) * q_row + h * dim + d]);

    const i32 visible = causal ? min(max(qi + lk - lq + 1, 0), lk) : lk;
    const T* bias_row = bias ? bias + b * bias_strides.v[0] + h * bias_strides.v[1] + (i64)qi * bias_strides.v[2] : nullptr;
    const u8* mask_row = mask ? mask + b * mask_strides.v[0] + (i64)qi * mask_strides.v[2] : nullptr;

    float acc[ATT_MAX_D / 32] = {0.0f, 0.0f, 0.0f, 0.0f};
    float running_max = pxl_neg_inf(), running_sum = 0.0f;

    for (i32 tile = 0; tile < lk; tile += ATT_KEYS)
    {
        __syncthreads(); // the previous tile is consumed (and, the first time, queries are stored)
        for (i32 e = threadIdx.x; e < ATT_KEYS * dim; e += blockDim.x)
        {
            const i32 key = e / dim, d = e % dim, j = tile + key;
            keys[key][d] = j < lk ? to_float(k[(b * lk + j) * k_row + h * dim + d]) : 0.0f;
        }
        for (i32 e = threadIdx.x; e < ATT_KEYS * vdim; e += blockDim.x)
        {
            const i32 key = e / vdim, d = e % vdim, j = tile + key;
            values[key][d] = j < lk ? to_float(v[(b * lk + j) * v_row + h * vdim + d]) : 0.0f;
        }
        __syncthreads();
        if (!active) continue;

        const i32 j = tile + lane;
        const bool real = j < lk;
        float score = pxl_neg_inf();
        if (real)
        {
            float dot = 0.0f;
            for (i32 d = 0; d < dim; d++) dot += queries[warp][d] * keys[lane][d];
            score = scale * dot;
            if (bias_row) score += attention_bias(bias_row, j, bias_strides);
            if (j >= visible || (mask_row && mask_row[j * mask_strides.v[3]] == 0)) score += mask_bias;
        }
        const float tile_max = warp_max(real ? score : pxl_neg_inf());
        const float new_max = fmaxf(running_max, tile_max);
        // While every score so far is −∞ nothing is accumulated ((−∞) − (−∞) would poison the sums with NaN).
        if (new_max == pxl_neg_inf()) continue;
        const float p = real ? expf(score - new_max) : 0.0f;
        const float correction = expf(running_max - new_max);
        running_sum = running_sum * correction + warp_sum(p);
        running_max = new_max;
#pragma unroll
        for (i32 r = 0; r < ATT_MAX_D / 32; r++) acc[r] *= correction;
        for (i32 key = 0; key < ATT_KEYS; key++)
        {
            const float pk = __shfl_sync(PXL_FULL_MASK, p, key);
#pragma unroll
            for (i32 r = 0; r < ATT_MAX_D / 32; r++)
            {
                const i32 d = lane + 32 * r;
                if (d < vdim) acc[r] += pk * values[key][d];
            }
        }
    }

    if (!active) return;
    const float inv = running_max == pxl_neg_inf() ? pxl_nan() : 1.0f / running_sum;
    T* out = y + ((b * lq + qi) * heads + h) * vdim;
#pragma unroll
    for (i32 r = 0; r < ATT_MAX_D / 32; r++)
    {
        const i32 d = lane + 32 * r;
        if (d < vdim) out[d] = from_float<T>(acc[r] * inv);
    }
}

#define PXL_ATTENTION(suffix, T)                                                                                     \
    extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32) attention_##suffix(                                 \
        const T* q, const T* k, const T* v, const T* bias, const u8* mask, T* y, i32 heads, i32 lq, i32 lk, i32 dim,  \
        i32 vdim, i32 q_row, i32 k_row, i32 v_row, float scale, float mask_bias, i32 causal, Dims8 bias_strides,      \
        Dims8 mask_strides)                                                                                          \
    { pxl_dependent_launch();                                                                                        \
        attention_block<T>(q, k, v, bias, mask, y, heads, lq, lk, dim, vdim, q_row, k_row, v_row, scale, mask_bias,   \
                           causal, bias_strides, mask_strides);                                                      \
    }

PXL_ATTENTION(f32, float)
PXL_ATTENTION(bf16, bf16)
PXL_ATTENTION(f16, half)
