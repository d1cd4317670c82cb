// AttentionOp on tensor cores for the vision encoders' long sequences (EVA02's 730 tokens, SAM's 196-token windows and
// 576-token global blocks): flash-style, one pass over the keys with an online softmax, so neither the f32 scores nor
// the probabilities are written (the cuBLAS path writes and re-reads both: 34 MB per EVA02 call). bf16/f16 storage,
// fp32 accumulation: S = Q·Kᵀ and O += P·V are mma.sync.m16n8k16 (sm_80+).
// Semantics as attention.cu, restricted to what the encoders use: no mask, not causal; bias none, a full (…, Lq, Lk)
// bias read in place, or SAM's decomposed rel-pos terms (attention_bias with a key grid). Head dim D = Dv is a template
// argument (one kernel per D the host names), so fragments and accumulators are exactly D wide. Rows of q, k and v are
// q_row/k_row/v_row elements apart (3·H·D for a packed q | k | v); k and v rows and bases 16-byte aligned (cp.async),
// q 4-byte; out (B, Lq, H·D) is contiguous.
// Block: MMA_WARPS warps, 16 query rows each. K and V come in tiles of MMA_KEYS keys, two tiles in flight: while the
// warps score tile i, cp.async copies tile i + 1 (keys past Lk are zero-filled, so P·V never multiplies stale bits).
// Fragments come from shared memory by ldmatrix (K as is, V transposed); rows are padded by 8 elements, so the eight
// 16-byte rows of each 8×8 matrix fall in distinct banks. Scores are kept in log2 units (exp2). With a key grid the
// block's rel-pos terms are read once into shared memory as f32, and each tile's keys' (grid row, column) beside it.
// Keys past Lk score −∞; rows past Lq are computed and not stored (warps wholly past Lq only copy).
// Dynamic shared memory (CudaOps.MmaAttentionLayout): K [2][MMA_KEYS][D+8], V [2][MMA_KEYS][D+8] (T), key cells
// [2][MMA_KEYS] (u32), terms [MMA_WARPS·16][term_pitch] (f32, grid bias only).
// Launch: grid = (ceil(Lq / (16·MMA_WARPS)), H, B), block = (32·MMA_WARPS, 1, 1).
#include "mma.cuh"

#define MMA_WARPS 4
#define MMA_THREADS (32 * MMA_WARPS)
#define MMA_ROWS (16 * MMA_WARPS)
#define MMA_KEYS 64
#define MMA_LOG2E 1.4426950408889634f

// Two elements as one 32-bit register, the lower column in the low half.
template <typename T> PXL_DEVICE u32 mma_pack(float lo, float hi)
{
    return (u32)from_float<T>(lo).bits | ((u32)from_float<T>(hi).bits << 16);
}

template <typename T> PXL_DEVICE u32 mma_pair(const T* p) { return *reinterpret_cast<const u32*>(p); }

// Starts copying MMA_KEYS keys and values from key `first` into one stage (one cp.async group per thread), and, for a
// key grid (cells non-null), writes each key's (grid row | grid column << 16).
template <typename T, int D>
PXL_DEVICE void mma_stage(u32 k_stage, u32 v_stage, u32* cells, const T* k_head, const T* v_head, i32 first, i32 lk,
                          i32 k_row, i32 v_row, i32 kw)
{
    constexpr int P = D + 8, CHUNKS = D / 8;
    for (i32 i = threadIdx.x; i < MMA_KEYS * CHUNKS; i += MMA_THREADS)
    {
        const i32 key = i / CHUNKS, c = (i - key * CHUNKS) * 8;
        const bool in = first + key < lk;
        const i64 j = in ? first + key : 0;
        const u32 at = (u32)((key * P + c) * (i32)sizeof(T));
        pxl_copy_async16_or_zero(k_stage + at, k_head + j * k_row + c, in);
        pxl_copy_async16_or_zero(v_stage + at, v_head + j * v_row + c, in);
    }
    if (cells)
        for (i32 i = threadIdx.x; i < MMA_KEYS; i += MMA_THREADS)
        {
            const i32 j = min(first + i, lk - 1), m = j / kw;
            cells[i] = (u32)m | ((u32)(j - m * kw) << 16);
        }
    asm volatile("cp.async.commit_group;" ::: "memory");
}

template <typename T, int D>
PXL_DEVICE void attention_mma_block(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                    const T* __restrict__ bias, T* __restrict__ y, i32 heads, i32 lq, i32 lk, i32 q_row,
                                    i32 k_row, i32 v_row, float scale, const Dims8& bias_strides, i32 term_pitch)
{
    constexpr int P = D + 8, TILE_BYTES = MMA_KEYS * P * (int)sizeof(T);
    extern __shared__ __align__(16) u8 mma_shared[];
    u32* cells = reinterpret_cast<u32*>(mma_shared + 4 * TILE_BYTES);
    float* terms = reinterpret_cast<float*>(cells + 2 * MMA_KEYS);
    const u32 k_stages = pxl_shared_address(mma_shared), v_stages = k_stages + 2 * TILE_BYTES;

    const i32 tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const i32 h = blockIdx.y;
    const i64 b = blockIdx.z;
    const i32 block_row0 = blockIdx.x * MMA_ROWS, row0 = block_row0 + warp * 16;
    const bool grid_bias = bias && bias_strides.v[4] != 0;
    const i32 kh = (i32)bias_strides.v[4], kw = (i32)bias_strides.v[5];
    const T* k_head = k + b * lk * (i64)k_row + (i64)h * D;
    const T* v_head = v + b * lk * (i64)v_row + (i64)h * D;
    const i32 tiles = (lk + MMA_KEYS - 1) / MMA_KEYS;
    mma_stage<T, D>(k_stages, v_stages, grid_bias ? cells : nullptr, k_head, v_head, 0, lk, k_row, v_row, kw);

    // The block's rows' rel-pos terms (Kh row terms, then Kw column terms), read once; visible after the first barrier.
    const T* bias_head = bias ? bias + b * bias_strides.v[0] + h * bias_strides.v[1] : nullptr;
    if (grid_bias)
        for (i32 i = tid, count = kh + kw; i < MMA_ROWS * count; i += MMA_THREADS)
        {
            const i32 r = i / count, c = i - r * count;
            terms[r * term_pitch + c] = to_float(bias_head[(i64)min(block_row0 + r, lq - 1) * bias_strides.v[2] + c]);
        }
    const float* terms_lo = terms + (warp * 16 + g) * term_pitch;
    const float* terms_hi = terms_lo + 8 * term_pitch;
    const T* bias_lo = bias_head ? bias_head + (i64)min(row0 + g, lq - 1) * bias_strides.v[2] : nullptr;
    const T* bias_hi = bias_head ? bias_head + (i64)min(row0 + g + 8, lq - 1) * bias_strides.v[2] : nullptr;

    // Q as A fragments for every 16-wide slice of the head dim; rows past Lq are zeros.
    const bool warp_active = row0 < lq, lo_ok = row0 + g < lq, hi_ok = row0 + g + 8 < lq;
    u32 qa[D / 16][4];
    {
        const T* q_lo = q + (b * lq + min(row0 + g, lq - 1)) * (i64)q_row + (i64)h * D;
        const T* q_hi = q + (b * lq + min(row0 + g + 8, lq - 1)) * (i64)q_row + (i64)h * D;
#pragma unroll
        for (int s = 0; s < D / 16; s++)
        {
            qa[s][0] = lo_ok ? mma_pair(q_lo + 16 * s + 2 * t) : 0u;
            qa[s][1] = hi_ok ? mma_pair(q_hi + 16 * s + 2 * t) : 0u;
            qa[s][2] = lo_ok ? mma_pair(q_lo + 16 * s + 8 + 2 * t) : 0u;
            qa[s][3] = hi_ok ? mma_pair(q_hi + 16 * s + 8 + 2 * t) : 0u;
        }
    }

    // This lane's ldmatrix row: lanes 8i..8i+7 address matrix i. K's four matrices are (keys 8n.. | 8n+8..) ×
    // (dims 16s.. | 16s+8..), i.e. the B fragments of two key tiles; V's are (keys 16s.. | 16s+8..) × (dims 8n.. | 8n+8..).
    const i32 mat = lane >> 3, mrow = lane & 7;
    const u32 k_lane = (u32)((((mat >> 1) * 8 + mrow) * P + (mat & 1) * 8) * (i32)sizeof(T));
    const u32 v_lane = (u32)((((mat & 1) * 8 + mrow) * P + (mat >> 1) * 8) * (i32)sizeof(T));

    float o[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float max_lo = pxl_neg_inf(), max_hi = pxl_neg_inf(), sum_lo = 0.0f, sum_hi = 0.0f;
    const float scale2 = scale * MMA_LOG2E;

    for (i32 tile = 0; tile < tiles; tile++)
    {
        const i32 buf = tile & 1, first = tile * MMA_KEYS;
        if (tile + 1 < tiles)
        {
            const i32 next = buf ^ 1;
            mma_stage<T, D>(k_stages + next * TILE_BYTES, v_stages + next * TILE_BYTES, grid_bias ? cells + next * MMA_KEYS : nullptr,
                            k_head, v_head, first + MMA_KEYS, lk, k_row, v_row, kw);
            asm volatile("cp.async.wait_group 1;" ::: "memory");
        }
        else
            asm volatile("cp.async.wait_group 0;" ::: "memory");
        __syncthreads(); // this tile (and, the first time, the terms) visible to every warp

        if (warp_active)
        {
            const u32 k_tile = k_stages + buf * TILE_BYTES + k_lane, v_tile = v_stages + buf * TILE_BYTES + v_lane;
            // S = Q·Kᵀ: MMA_KEYS / 8 key tiles, two per ldmatrix, the head dim in 16-wide steps.
            float s[MMA_KEYS / 8][4];
#pragma unroll
            for (int n = 0; n < MMA_KEYS / 8; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
            for (int n = 0; n < MMA_KEYS / 8; n += 2)
#pragma unroll
                for (int st = 0; st < D / 16; st++)
                {
                    u32 kb[4];
                    pxl_ldmatrix_x4<false>(kb, k_tile + (u32)((n * 8 * P + st * 16) * (i32)sizeof(T)));
                    mma_16816<T>(s[n], qa[st], kb);
                    mma_16816<T>(s[n + 1], qa[st], kb + 2);
                }
            // Scale and bias in log2 units; keys past Lk hidden; the running max and sum of this lane's two rows.
            float tile_lo = pxl_neg_inf(), tile_hi = pxl_neg_inf();
#pragma unroll
            for (int n = 0; n < MMA_KEYS / 8; n++)
#pragma unroll
                for (int e = 0; e < 2; e++)
                {
                    const i32 c = n * 8 + 2 * t + e, j = first + c;
                    float lo = s[n][e] * scale2, hi = s[n][2 + e] * scale2;
                    if (grid_bias)
                    {
                        const u32 cell = cells[buf * MMA_KEYS + c];
                        const i32 m = (i32)(cell & 0xffffu), w = kh + (i32)(cell >> 16);
                        lo += (terms_lo[m] + terms_lo[w]) * MMA_LOG2E;
                        hi += (terms_hi[m] + terms_hi[w]) * MMA_LOG2E;
                    }
                    else if (bias_lo && j < lk)
                    {
                        lo += attention_bias(bias_lo, j, bias_strides) * MMA_LOG2E;
                        hi += attention_bias(bias_hi, j, bias_strides) * MMA_LOG2E;
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
            // A row with no finite score yet keeps max −∞: its terms are 2^−∞ = 0 and need no rescale.
            const float keep_lo = new_lo == pxl_neg_inf() ? 1.0f : exp2f(max_lo - new_lo);
            const float keep_hi = new_hi == pxl_neg_inf() ? 1.0f : exp2f(max_hi - new_hi);
            max_lo = new_lo;
            max_hi = new_hi;
            float add_lo = 0.0f, add_hi = 0.0f;
#pragma unroll
            for (int n = 0; n < MMA_KEYS / 8; n++)
#pragma unroll
                for (int e = 0; e < 2; e++)
                {
                    const float plo = new_lo == pxl_neg_inf() ? 0.0f : exp2f(s[n][e] - new_lo);
                    const float phi = new_hi == pxl_neg_inf() ? 0.0f : exp2f(s[n][2 + e] - new_hi);
                    s[n][e] = plo;
                    s[n][2 + e] = phi;
                    add_lo += plo;
                    add_hi += phi;
                }
            sum_lo = sum_lo * keep_lo + add_lo;
            sum_hi = sum_hi * keep_hi + add_hi;
#pragma unroll
            for (int n = 0; n < D / 8; n++)
            {
                o[n][0] *= keep_lo;
                o[n][1] *= keep_lo;
                o[n][2] *= keep_hi;
                o[n][3] *= keep_hi;
            }
            // O += P·V, 16 keys a step: P's C fragments of two 8-key tiles are exactly one A fragment (rounded to T, as
            // the cuBLAS path rounds its probabilities); V's B fragments for two 8-wide dim tiles per ldmatrix.
#pragma unroll
            for (int st = 0; st < MMA_KEYS / 16; st++)
            {
                const u32 pa[4] = {mma_pack<T>(s[2 * st][0], s[2 * st][1]), mma_pack<T>(s[2 * st][2], s[2 * st][3]),
                                   mma_pack<T>(s[2 * st + 1][0], s[2 * st + 1][1]), mma_pack<T>(s[2 * st + 1][2], s[2 * st + 1][3])};
#pragma unroll
                for (int n = 0; n < D / 8; n += 2)
                {
                    u32 vb[4];
                    pxl_ldmatrix_x4<true>(vb, v_tile + (u32)((st * 16 * P + n * 8) * (i32)sizeof(T)));
                    mma_16816<T>(o[n], pa, vb);
                    mma_16816<T>(o[n + 1], pa, vb + 2);
                }
            }
        }
        __syncthreads(); // every warp is done with this stage before the next iteration copies into it
    }
    if (!warp_active) return;

    // Each row's sum is spread over its quad; the output is O / sum.
    sum_lo += __shfl_xor_sync(PXL_FULL_MASK, sum_lo, 1);
    sum_lo += __shfl_xor_sync(PXL_FULL_MASK, sum_lo, 2);
    sum_hi += __shfl_xor_sync(PXL_FULL_MASK, sum_hi, 1);
    sum_hi += __shfl_xor_sync(PXL_FULL_MASK, sum_hi, 2);
    const float inv_lo = 1.0f / sum_lo, inv_hi = 1.0f / sum_hi; // an all −∞ row: 0/0, NaN, as attention.cu gives
    T* out_lo = y + ((b * lq + row0 + g) * heads + h) * (i64)D;
    T* out_hi = y + ((b * lq + row0 + g + 8) * heads + h) * (i64)D;
#pragma unroll
    for (int n = 0; n < D / 8; n++)
    {
        if (lo_ok) *reinterpret_cast<u32*>(out_lo + n * 8 + 2 * t) = mma_pack<T>(o[n][0] * inv_lo, o[n][1] * inv_lo);
        if (hi_ok) *reinterpret_cast<u32*>(out_hi + n * 8 + 2 * t) = mma_pack<T>(o[n][2] * inv_hi, o[n][3] * inv_hi);
    }
}

#define PXL_ATTENTION_MMA(D, suffix, T)                                                                               \
    extern "C" __global__ void __launch_bounds__(MMA_THREADS) attention_mma_d##D##_##suffix(                          \
        const T* q, const T* k, const T* v, const T* bias, T* y, i32 heads, i32 lq, i32 lk, i32 q_row, i32 k_row,     \
        i32 v_row, float scale, Dims8 bias_strides, i32 term_pitch)                                                   \
    { pxl_dependent_launch();                                                                                         \
        attention_mma_block<T, D>(q, k, v, bias, y, heads, lq, lk, q_row, k_row, v_row, scale, bias_strides, term_pitch); \
    }

PXL_ATTENTION_MMA(32, bf16, bf16)
PXL_ATTENTION_MMA(64, bf16, bf16)
PXL_ATTENTION_MMA(80, bf16, bf16)
PXL_ATTENTION_MMA(96, bf16, bf16)
PXL_ATTENTION_MMA(128, bf16, bf16)
PXL_ATTENTION_MMA(32, f16, half)
PXL_ATTENTION_MMA(64, f16, half)
PXL_ATTENTION_MMA(80, f16, half)
PXL_ATTENTION_MMA(96, f16, half)
PXL_ATTENTION_MMA(128, f16, half)
