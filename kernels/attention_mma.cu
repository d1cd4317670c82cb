// AttentionOp on tensor cores for the vision encoders' long sequences (EVA02's 730 tokens, SAM's 196-token windows and
// 576-token global blocks): flash-style, one pass over the keys with an online softmax, so neither the f32 scores nor
// the probabilities are written (the cuBLAS path writes and re-reads both: 34 MB per EVA02 call). bf16/f16 storage,
// fp32 accumulation: S = Q·Kᵀ and O += P·V are mma.sync.m16n8k16 (sm_80+).
// Semantics as attention.cu, restricted to what the encoders use: no mask, not causal; bias none or SAM's decomposed
// rel-pos terms (attention_bias with a key grid); head dims D = Dv, a multiple of 16, ≤ MMA_MAX_D. Rows of q, k and v
// are q_row/k_row/v_row elements apart (3·H·D for a packed q | k | v), out (B, Lq, H·D) is contiguous.
// Block: MMA_WARPS warps, 16 query rows each (64 per block); every MMA_KEYS keys the block stages K and V in shared
// memory (rows padded by 8 elements: the B-fragment reads hit distinct banks) and each warp scores its rows against
// them, rescales its running output and adds P·V. Keys past Lk score −∞; rows past Lq are computed and not stored.
// Fragment layouts: mma.cuh.
// Launch: grid = (ceil(Lq / 64), H, B), block = (32·MMA_WARPS, 1, 1).
#include "mma.cuh"

#define MMA_WARPS 4
#define MMA_KEYS 64
#define MMA_MAX_D 128
#define MMA_PITCH (MMA_MAX_D + 8)

// Two elements as one 32-bit register, the lower column in the low half.
template <typename T> PXL_DEVICE u32 mma_pack(float lo, float hi)
{
    return (u32)from_float<T>(lo).bits | ((u32)from_float<T>(hi).bits << 16);
}

template <typename T> PXL_DEVICE u32 mma_pair(const T* p) { return *reinterpret_cast<const u32*>(p); }

template <typename T>
PXL_DEVICE void attention_mma_block(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                    const T* __restrict__ bias, T* __restrict__ y, i32 heads, i32 lq, i32 lk, i32 dim,
                                    i32 q_row, i32 k_row, i32 v_row, float scale, const Dims8& bias_strides)
{
    __shared__ __align__(16) T ks[MMA_KEYS * MMA_PITCH];
    __shared__ __align__(16) T vs[MMA_KEYS * MMA_PITCH];
    const i32 tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const i32 h = blockIdx.y;
    const i64 b = blockIdx.z;
    const i32 row0 = blockIdx.x * (MMA_WARPS * 16) + warp * 16; // this warp's first query row
    const i32 steps = dim / 16, tiles = dim / 8;

    // Q as A fragments for every 16-wide slice of the head dim; rows past Lq are zeros.
    u32 qa[MMA_MAX_D / 16][4];
    const T* q_lo = q + (b * lq + min(row0 + g, lq - 1)) * (i64)q_row + (i64)h * dim;
    const T* q_hi = q + (b * lq + min(row0 + g + 8, lq - 1)) * (i64)q_row + (i64)h * dim;
    const bool lo_ok = row0 + g < lq, hi_ok = row0 + g + 8 < lq;
#pragma unroll
    for (int s = 0; s < MMA_MAX_D / 16; s++)
        if (s < steps)
        {
            qa[s][0] = lo_ok ? mma_pair(q_lo + 16 * s + 2 * t) : 0u;
            qa[s][1] = hi_ok ? mma_pair(q_hi + 16 * s + 2 * t) : 0u;
            qa[s][2] = lo_ok ? mma_pair(q_lo + 16 * s + 8 + 2 * t) : 0u;
            qa[s][3] = hi_ok ? mma_pair(q_hi + 16 * s + 8 + 2 * t) : 0u;
        }
    const T* bias_lo = bias ? bias + b * bias_strides.v[0] + h * bias_strides.v[1] + (i64)min(row0 + g, lq - 1) * bias_strides.v[2] : nullptr;
    const T* bias_hi = bias ? bias + b * bias_strides.v[0] + h * bias_strides.v[1] + (i64)min(row0 + g + 8, lq - 1) * bias_strides.v[2] : nullptr;

    float o[MMA_MAX_D / 8][4];
#pragma unroll
    for (int n = 0; n < MMA_MAX_D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float max_lo = pxl_neg_inf(), max_hi = pxl_neg_inf(), sum_lo = 0.0f, sum_hi = 0.0f;

    for (i32 first = 0; first < lk; first += MMA_KEYS)
    {
        __syncthreads(); // the previous tile's readers are done
        for (i32 i = tid; i < MMA_KEYS * (dim / 2); i += blockDim.x)
        {
            const i32 key = i / (dim / 2), d = 2 * (i % (dim / 2));
            const bool in = first + key < lk;
            const i64 at = b * lk + first + key;
            *reinterpret_cast<u32*>(ks + key * MMA_PITCH + d) = in ? mma_pair(k + at * k_row + (i64)h * dim + d) : 0u;
            *reinterpret_cast<u32*>(vs + key * MMA_PITCH + d) = in ? mma_pair(v + at * v_row + (i64)h * dim + d) : 0u;
        }
        __syncthreads();

        // S = Q·Kᵀ for MMA_KEYS keys: 8-key tiles, the head dim in 16-wide steps.
        float s[MMA_KEYS / 8][4];
#pragma unroll
        for (int n = 0; n < MMA_KEYS / 8; n++)
        {
            s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
            const T* key = ks + (n * 8 + g) * MMA_PITCH;
#pragma unroll
            for (int st = 0; st < MMA_MAX_D / 16; st++)
                if (st < steps)
                {
                    const u32 kb[2] = {mma_pair(key + 16 * st + 2 * t), mma_pair(key + 16 * st + 8 + 2 * t)};
                    mma_16816<T>(s[n], qa[st], kb);
                }
        }
        // Scale, bias, hide keys past Lk; the running max and sum of each of this lane's two rows.
        float tile_lo = pxl_neg_inf(), tile_hi = pxl_neg_inf();
#pragma unroll
        for (int n = 0; n < MMA_KEYS / 8; n++)
#pragma unroll
            for (int e = 0; e < 2; e++)
            {
                const i32 j = first + n * 8 + 2 * t + e;
                float lo = s[n][e] * scale, hi = s[n][2 + e] * scale;
                if (j < lk && bias)
                {
                    lo += attention_bias(bias_lo, j, bias_strides);
                    hi += attention_bias(bias_hi, j, bias_strides);
                }
                if (j >= lk) lo = hi = pxl_neg_inf();
                s[n][e] = lo;
                s[n][2 + e] = hi;
                tile_lo = fmaxf(tile_lo, lo);
                tile_hi = fmaxf(tile_hi, hi);
            }
        // The four lanes of a quad share a row.
        tile_lo = fmaxf(tile_lo, __shfl_xor_sync(PXL_FULL_MASK, tile_lo, 1));
        tile_lo = fmaxf(tile_lo, __shfl_xor_sync(PXL_FULL_MASK, tile_lo, 2));
        tile_hi = fmaxf(tile_hi, __shfl_xor_sync(PXL_FULL_MASK, tile_hi, 1));
        tile_hi = fmaxf(tile_hi, __shfl_xor_sync(PXL_FULL_MASK, tile_hi, 2));
        const float new_lo = fmaxf(max_lo, tile_lo), new_hi = fmaxf(max_hi, tile_hi);
        // A row with no finite score yet keeps max −∞: its terms are exp(−∞) = 0, no rescale is needed.
        const float keep_lo = new_lo == pxl_neg_inf() ? 1.0f : expf(max_lo - new_lo);
        const float keep_hi = new_hi == pxl_neg_inf() ? 1.0f : expf(max_hi - new_hi);
        max_lo = new_lo;
        max_hi = new_hi;
        float add_lo = 0.0f, add_hi = 0.0f;
#pragma unroll
        for (int n = 0; n < MMA_KEYS / 8; n++)
#pragma unroll
            for (int e = 0; e < 2; e++)
            {
                const float plo = new_lo == pxl_neg_inf() ? 0.0f : expf(s[n][e] - new_lo);
                const float phi = new_hi == pxl_neg_inf() ? 0.0f : expf(s[n][2 + e] - new_hi);
                s[n][e] = plo;
                s[n][2 + e] = phi;
                add_lo += plo;
                add_hi += phi;
            }
        sum_lo = sum_lo * keep_lo + add_lo;
        sum_hi = sum_hi * keep_hi + add_hi;
#pragma unroll
        for (int n = 0; n < MMA_MAX_D / 8; n++)
        {
            o[n][0] *= keep_lo;
            o[n][1] *= keep_lo;
            o[n][2] *= keep_hi;
            o[n][3] *= keep_hi;
        }
        // O += P·V, 16 keys a step: P's C fragments of two 8-key tiles are exactly one A fragment (rounded to T, as
        // the cuBLAS path rounds its probabilities).
#pragma unroll
        for (int st = 0; st < MMA_KEYS / 16; st++)
        {
            const u32 pa[4] = {mma_pack<T>(s[2 * st][0], s[2 * st][1]), mma_pack<T>(s[2 * st][2], s[2 * st][3]),
                               mma_pack<T>(s[2 * st + 1][0], s[2 * st + 1][1]), mma_pack<T>(s[2 * st + 1][2], s[2 * st + 1][3])};
            const T* v0 = vs + (16 * st + 2 * t) * MMA_PITCH;
#pragma unroll
            for (int n = 0; n < MMA_MAX_D / 8; n++)
                if (n < tiles)
                {
                    const i32 col = n * 8 + g;
                    const u32 vb[2] = {(u32)v0[col].bits | ((u32)v0[MMA_PITCH + col].bits << 16),
                                       (u32)v0[8 * MMA_PITCH + col].bits | ((u32)v0[9 * MMA_PITCH + col].bits << 16)};
                    mma_16816<T>(o[n], pa, vb);
                }
        }
    }

    // Each row's sum is spread over its quad; the output is O / sum.
    sum_lo += __shfl_xor_sync(PXL_FULL_MASK, sum_lo, 1);
    sum_lo += __shfl_xor_sync(PXL_FULL_MASK, sum_lo, 2);
    sum_hi += __shfl_xor_sync(PXL_FULL_MASK, sum_hi, 1);
    sum_hi += __shfl_xor_sync(PXL_FULL_MASK, sum_hi, 2);
    const float inv_lo = 1.0f / sum_lo, inv_hi = 1.0f / sum_hi; // an all −∞ row: 0/0, NaN, as attention.cu gives
    T* out_lo = y + ((b * lq + row0 + g) * heads + h) * (i64)dim;
    T* out_hi = y + ((b * lq + row0 + g + 8) * heads + h) * (i64)dim;
#pragma unroll
    for (int n = 0; n < MMA_MAX_D / 8; n++)
        if (n < tiles)
        {
            if (lo_ok) *reinterpret_cast<u32*>(out_lo + n * 8 + 2 * t) = mma_pack<T>(o[n][0] * inv_lo, o[n][1] * inv_lo);
            if (hi_ok) *reinterpret_cast<u32*>(out_hi + n * 8 + 2 * t) = mma_pack<T>(o[n][2] * inv_hi, o[n][3] * inv_hi);
        }
}

#define PXL_ATTENTION_MMA(suffix, T)                                                                                 \
    extern "C" __global__ void __launch_bounds__(MMA_WARPS * 32) attention_mma_##suffix(                             \
        const T* q, const T* k, const T* v, const T* bias, T* y, i32 heads, i32 lq, i32 lk, i32 dim, i32 q_row,       \
        i32 k_row, i32 v_row, float scale, Dims8 bias_strides)                                                       \
    { pxl_dependent_launch();                                                                                        \
        attention_mma_block<T>(q, k, v, bias, y, heads, lq, lk, dim, q_row, k_row, v_row, scale, bias_strides);      \
    }

PXL_ATTENTION_MMA(bf16, bf16)
PXL_ATTENTION_MMA(f16, half)
