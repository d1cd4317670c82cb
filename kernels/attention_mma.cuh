// The tensor-core attention block shared by attention_mma.cu (AttentionOp: rows at strides, a bias read in place) and
// grid_attention.cu (GridAttentionOp: windows read where they lie in the unpartitioned map, rel-pos terms computed by the
// block): flash-style, one pass over the keys with an online softmax, so neither the f32 scores nor the probabilities
// are written. bf16/f16 storage, fp32 accumulation: S = Q·Kᵀ and O += P·V are mma.sync.m16n8k16 (sm_80+). Head dim
// D = Dv is a template argument, so fragments and accumulators are exactly D wide.
// Where rows are is the Rows policy's (the two files' structs):
//   query(r) / out(r): query r's q and output rows, nullptr for zeros / not stored (r < Lq);
//   key_value(j, k, v): key j's k and v rows, nullptr for zero-filled (j < Lk);
//   terms(): whether scores take decomposed rel-pos terms; cell(j): key j's two term indices (row | column << 16);
//   term_h(r) / term_w(r): where query r's row and column terms start in its term row;
//   stage_terms(...): block-wide, before the first barrier; warp_terms(...): each warp for its 16 rows, after Q loads;
//   query_pair(row, r, col): q's elements col, col + 1 of query r as one register; rotate_keys(stage, first, lk): each
//   thread's own copied K chunks of a tile, rewritten in shared memory once they have landed, before the barrier.
// Block: MMA_WARPS warps, 16 query rows each. K and V come in tiles of MMA_KEYS keys, two tiles in flight: while the
// warps score tile i, cp.async copies tile i + 1 (keys past Lk are zero-filled, so P·V never multiplies stale bits).
// Fragments come from shared memory by ldmatrix (K as is, V transposed); rows are padded by 8 elements, so the eight
// 16-byte rows of each 8×8 matrix fall in distinct banks. Scores are kept in log2 units (exp2). Keys past Lk score −∞;
// rows past Lq are computed and not stored (warps wholly past Lq only copy).
// Dynamic shared memory (CudaOps.MmaAttentionLayout): K [2][MMA_KEYS][D+8], V [2][MMA_KEYS][D+8] (T), key cells
// [2][MMA_KEYS] (u32), terms [MMA_WARPS·16][term_pitch] (f32, rel-pos only).
#pragma once
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

// Starts copying MMA_KEYS keys and values from key `first` into one stage (one cp.async group per thread), and, with
// terms, writes each key's cell.
template <typename T, int D, typename Rows>
PXL_DEVICE void mma_stage(const Rows& rows, u32 k_stage, u32 v_stage, u32* cells, i32 first, i32 lk)
{
    constexpr int P = D + 8, CHUNKS = D / 8;
    for (i32 i = threadIdx.x; i < MMA_KEYS * CHUNKS; i += MMA_THREADS)
    {
        const i32 key = i / CHUNKS, c = (i - key * CHUNKS) * 8;
        const T *k = nullptr, *v = nullptr;
        if (first + key < lk) rows.key_value(first + key, k, v);
        const u32 at = (u32)((key * P + c) * (i32)sizeof(T));
        pxl_copy_async16_or_zero(k_stage + at, k ? k + c : rows.any_row(), k != nullptr);
        pxl_copy_async16_or_zero(v_stage + at, v ? v + c : rows.any_row(), v != nullptr);
    }
    if (rows.terms())
        for (i32 i = threadIdx.x; i < MMA_KEYS; i += MMA_THREADS) cells[i] = rows.cell(min(first + i, lk - 1));
    pxl_copy_async_commit();
}

template <typename T, int D, typename Rows>
PXL_DEVICE void attention_mma_core(const Rows& rows, i32 lq, i32 lk, float scale, const T* bias_head, const Dims8& bias_strides,
                                   i32 term_pitch)
{
    constexpr int P = D + 8, TILE_BYTES = MMA_KEYS * P * (int)sizeof(T);
    extern __shared__ __align__(16) u8 mma_shared[];
    u32* cells = reinterpret_cast<u32*>(mma_shared + 4 * TILE_BYTES);
    float* terms = reinterpret_cast<float*>(cells + 2 * MMA_KEYS);
    const u32 k_stages = pxl_shared_address(mma_shared), v_stages = k_stages + 2 * TILE_BYTES;

    const i32 tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const i32 block_row0 = blockIdx.x * MMA_ROWS, row0 = block_row0 + warp * 16;
    const bool with_terms = rows.terms();
    const i32 tiles = (lk + MMA_KEYS - 1) / MMA_KEYS;
    mma_stage<T, D>(rows, k_stages, v_stages, cells, 0, lk);
    rows.stage_terms(terms, term_pitch, block_row0);

    // Q as A fragments for every 16-wide slice of the head dim; rows past Lq (or without a q row) are zeros.
    const bool warp_active = row0 < lq;
    const i32 r_lo = min(row0 + g, lq - 1), r_hi = min(row0 + g + 8, lq - 1);
    const T* q_lo = rows.query(r_lo);
    const T* q_hi = rows.query(r_hi);
    const bool lo_ok = row0 + g < lq && q_lo, hi_ok = row0 + g + 8 < lq && q_hi;
    u32 qa[D / 16][4];
#pragma unroll
    for (int s = 0; s < D / 16; s++)
    {
        qa[s][0] = lo_ok ? rows.query_pair(q_lo, r_lo, 16 * s + 2 * t) : 0u;
        qa[s][1] = hi_ok ? rows.query_pair(q_hi, r_hi, 16 * s + 2 * t) : 0u;
        qa[s][2] = lo_ok ? rows.query_pair(q_lo, r_lo, 16 * s + 8 + 2 * t) : 0u;
        qa[s][3] = hi_ok ? rows.query_pair(q_hi, r_hi, 16 * s + 8 + 2 * t) : 0u;
    }
    float* warp_term_rows = terms + warp * 16 * term_pitch;
    if (warp_active) rows.warp_terms(qa, warp_term_rows, term_pitch);
    const float* terms_lo = warp_term_rows + g * term_pitch;
    const float* terms_hi = terms_lo + 8 * term_pitch;
    const float *h_lo = terms_lo + rows.term_h(r_lo), *w_lo = terms_lo + rows.term_w(r_lo);
    const float *h_hi = terms_hi + rows.term_h(r_hi), *w_hi = terms_hi + rows.term_w(r_hi);
    const T* bias_lo = bias_head ? bias_head + (i64)r_lo * bias_strides.v[2] : nullptr;
    const T* bias_hi = bias_head ? bias_head + (i64)r_hi * bias_strides.v[2] : nullptr;

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
            mma_stage<T, D>(rows, k_stages + next * TILE_BYTES, v_stages + next * TILE_BYTES, cells + next * MMA_KEYS, first + MMA_KEYS, lk);
            pxl_copy_async_wait_group<1>();
        }
        else
            pxl_copy_async_wait_group<0>();
        rows.rotate_keys(reinterpret_cast<T*>(mma_shared + buf * TILE_BYTES), first, lk);
        __syncthreads(); // this tile (and, the first time, staged terms) visible to every warp

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
                    if (with_terms)
                    {
                        const u32 cell = cells[buf * MMA_KEYS + c];
                        const i32 m = (i32)(cell & 0xffffu), w = (i32)(cell >> 16);
                        lo += (h_lo[m] + w_lo[w]) * MMA_LOG2E;
                        hi += (h_hi[m] + w_hi[w]) * MMA_LOG2E;
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
    T* out_lo = row0 + g < lq ? rows.out(row0 + g) : nullptr;
    T* out_hi = row0 + g + 8 < lq ? rows.out(row0 + g + 8) : nullptr;
#pragma unroll
    for (int n = 0; n < D / 8; n++)
    {
        if (out_lo) *reinterpret_cast<u32*>(out_lo + n * 8 + 2 * t) = mma_pack<T>(o[n][0] * inv_lo, o[n][1] * inv_lo);
        if (out_hi) *reinterpret_cast<u32*>(out_hi + n * 8 + 2 * t) = mma_pack<T>(o[n][2] * inv_hi, o[n][3] * inv_hi);
    }
}

// Batch element b, head h: token j of q/k/v at base + (b·L + j)·row + h·D; the bias terms' row r at bias_row(r).
template <typename T, int D> struct MmaStridedRows
{
    const T *q, *k, *v, *bias_head;
    T* y;
    i64 b;
    i64 bias_row;
    i32 h, heads, lq, lk, q_row, k_row, v_row, kh, kw;

    PXL_DEVICE const T* query(i32 r) const { return q + (b * lq + r) * (i64)q_row + (i64)h * D; }
    PXL_DEVICE void key_value(i32 j, const T*& key, const T*& value) const
    {
        key = k + (b * lk + j) * (i64)k_row + (i64)h * D;
        value = v + (b * lk + j) * (i64)v_row + (i64)h * D;
    }
    PXL_DEVICE const T* any_row() const { return k; }
    PXL_DEVICE T* out(i32 r) const { return y + ((b * lq + r) * heads + h) * (i64)D; }
    PXL_DEVICE bool terms() const { return kh != 0; }
    PXL_DEVICE u32 cell(i32 j) const
    {
        const i32 m = j / kw;
        return (u32)m | ((u32)(j - m * kw) << 16);
    }
    PXL_DEVICE i32 term_h(i32) const { return 0; }
    PXL_DEVICE i32 term_w(i32) const { return kh; }
    // The block's rows' Kh row terms, then Kw column terms, read once; visible after the first barrier.
    PXL_DEVICE void stage_terms(float* staged, i32 pitch, i32 block_row0) const
    {
        if (!terms()) return;
        for (i32 i = threadIdx.x, count = kh + kw; i < MMA_ROWS * count; i += MMA_THREADS)
        {
            const i32 r = i / count, c = i - r * count;
            staged[r * pitch + c] = to_float(bias_head[(i64)min(block_row0 + r, lq - 1) * bias_row + c]);
        }
    }
    PXL_DEVICE void warp_terms(const u32 (&)[D / 16][4], float*, i32) const {}
    PXL_DEVICE u32 query_pair(const T* row, i32, i32 col) const { return mma_pair(row + col); }
    PXL_DEVICE void rotate_keys(T*, i32, i32) const {}
};
