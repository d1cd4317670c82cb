// RelPosBiasOp (SAM decomposed relative position) as the terms attention sums per key: q (B, Qh·Qw, H·D) unscaled, its
// tokens q_row elements apart (H·D, or 3·H·D when q is the first third of a packed q | k | v row),
// tables rel_h (2·max(Qh,Kh)−1, D) and rel_w → t (B, H, Qh·Qw, Kh + Kw) with t[(i,j), m] = q·rel_h[idx_h(i,m)] and
// t[(i,j), Kh + n] = q·rel_w[idx_w(j,n)], where idx(a, b) = (i32)(a·a_scale − b·b_scale + offset) in fp32 exactly as the
// CPU backend rounds it (no FMA contraction). The attention kernels add t[m] + t[Kh + n] to key (m, n)'s score
// (attention_bias in prelude.cuh), so the Qh·Qw × Kh·Kw bias is never written.
// One warp per (b, h, query token), REL_WARPS per block: the lanes hold the query (d = lane + 32·k, k < D/32) in
// registers and read each table row together (consecutive d, one or two cache lines per load), then reduce the dot
// with shuffles; lane t % 32 keeps term t and the terms are stored 32 at a time. (One thread per term, as before,
// made every load touch as many lines as there were terms: 40 µs a SAM window call on an H200.)
// Launch: grid = ceil(B·H·Qh·Qw / REL_WARPS), block = (32·REL_WARPS, 1, 1); D ≤ 256, Kh and Kw ≤ 256.
// rel_pos_bias_tables_<t> (PIXELLLM_STAGED_REL_POS=1): the other way round, a lane per term. The block first copies both
// tables into shared memory as f32 rows `pitch` floats apart (pitch ≥ D, pitch ≡ 4 mod 8: the 16-byte reads of eight
// lanes from consecutive rows fall in distinct banks) and each warp its query; then every lane runs its term's dot
// product over D in 16-byte steps. The warp-per-term kernel above pays five dependent shuffles per term, 28-48 terms a
// token: run 11 timed it at 33 us a SAM call, 1.06 ms of the encoder's 8.4 ms profile. Sums run in d order (another
// order than above). Launch: grid = ceil(tokens / (REL_WARPS · REL_TOKENS_PER_WARP)), block = 32·REL_WARPS, dynamic
// shared memory (rows_h + rows_w + REL_WARPS) · pitch · 4 bytes; D a multiple of 4.
#include "prelude.cuh"

#define PXL_REL_MAX 256
#define REL_WARPS 8

PXL_DEVICE i32 rel_index(i32 query, i32 key, float query_scale, float key_scale, float offset)
{
    return (i32)__fadd_rn(__fsub_rn(__fmul_rn((float)query, query_scale), __fmul_rn((float)key, key_scale)), offset);
}

template <typename T>
PXL_DEVICE void rel_pos_warp(const T* __restrict__ q, const T* __restrict__ rel_h, const T* __restrict__ rel_w, T* __restrict__ y,
                             i64 tokens_all, i32 heads, i32 dim, i32 q_row, i32 qh, i32 qw, i32 kh, i32 kw, float hq, float hk,
                             float ho, float wq, float wk, float wo)
{
    const i32 lane = threadIdx.x & 31;
    const i64 item = (i64)blockIdx.x * REL_WARPS + (threadIdx.x >> 5);
    if (item >= tokens_all) return; // warp-uniform; no barrier follows
    const i32 token = (i32)(item % (qh * qw)), h = (i32)(item / (qh * qw) % heads);
    const i64 b = item / (qh * qw) / heads;
    const i32 i = token / qw, j = token % qw;
    float query[PXL_REL_MAX / 32];
    const T* qt = q + (b * qh * qw + token) * q_row + (i64)h * dim;
#pragma unroll
    for (int k = 0; k < PXL_REL_MAX / 32; k++) query[k] = lane + 32 * k < dim ? to_float(qt[lane + 32 * k]) : 0.0f;
    T* out = y + (((b * heads + h) * qh * qw) + token) * (i64)(kh + kw);
    for (i32 first = 0; first < kh + kw; first += 32)
    {
        float mine = 0.0f;
        const i32 last = min(first + 32, kh + kw);
        for (i32 t = first; t < last; t++)
        {
            const T* row = t < kh ? rel_h + (i64)rel_index(i, t, hq, hk, ho) * dim : rel_w + (i64)rel_index(j, t - kh, wq, wk, wo) * dim;
            float dot = 0.0f;
#pragma unroll
            for (int k = 0; k < PXL_REL_MAX / 32; k++)
                if (lane + 32 * k < dim) dot = fmaf(query[k], to_float(row[lane + 32 * k]), dot);
            dot = warp_sum(dot);
            if (lane == t - first) mine = dot;
        }
        if (first + lane < last) out[first + lane] = from_float<T>(mine);
    }
}

#define REL_TOKENS_PER_WARP 8

template <typename T>
PXL_DEVICE void rel_pos_tables(const T* __restrict__ q, const T* __restrict__ rel_h, const T* __restrict__ rel_w,
                               T* __restrict__ y, i64 tokens_all, i32 heads, i32 dim, i32 q_row, i32 qh, i32 qw, i32 kh, i32 kw,
                               i32 rows_h, i32 rows_w, i32 pitch, float hq, float hk, float ho, float wq, float wk, float wo)
{
    extern __shared__ __align__(16) float rel_smem[];
    float* table_h = rel_smem;
    float* table_w = table_h + (i64)rows_h * pitch;
    const i32 lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float* query = table_w + (i64)rows_w * pitch + warp * pitch;
    for (i32 i = threadIdx.x; i < rows_h * dim; i += blockDim.x) table_h[(i / dim) * pitch + i % dim] = to_float(rel_h[i]);
    for (i32 i = threadIdx.x; i < rows_w * dim; i += blockDim.x) table_w[(i / dim) * pitch + i % dim] = to_float(rel_w[i]);
    __syncthreads();

    const i32 terms = kh + kw;
    const i64 first_item = ((i64)blockIdx.x * REL_WARPS + warp) * REL_TOKENS_PER_WARP;
    for (i64 item = first_item; item < min(first_item + REL_TOKENS_PER_WARP, tokens_all); item++)
    {
        const i32 token = (i32)(item % (qh * qw)), h = (i32)(item / (qh * qw) % heads);
        const i64 b = item / (qh * qw) / heads;
        const i32 i = token / qw, j = token % qw;
        const T* qt = q + (b * qh * qw + token) * q_row + (i64)h * dim;
        __syncwarp();
        for (i32 d = lane; d < dim; d += 32) query[d] = to_float(qt[d]);
        __syncwarp();
        T* out = y + (((b * heads + h) * qh * qw) + token) * (i64)terms;
        for (i32 t = lane; t < terms; t += 32)
        {
            const float* row = t < kh ? table_h + (i64)rel_index(i, t, hq, hk, ho) * pitch
                                      : table_w + (i64)rel_index(j, t - kh, wq, wk, wo) * pitch;
            float dot = 0.0f;
#pragma unroll 2
            for (i32 d = 0; d < dim; d += 4)
            {
                const float4 a = *reinterpret_cast<const float4*>(query + d), r = *reinterpret_cast<const float4*>(row + d);
                dot = fmaf(a.x, r.x, dot);
                dot = fmaf(a.y, r.y, dot);
                dot = fmaf(a.z, r.z, dot);
                dot = fmaf(a.w, r.w, dot);
            }
            out[t] = from_float<T>(dot);
        }
    }
}

#define PXL_REL_POS_TABLES(suffix, T)                                                                                \
    extern "C" __global__ void __launch_bounds__(32 * REL_WARPS) rel_pos_bias_tables_##suffix(const T* q,             \
        const T* rel_h, const T* rel_w, T* y, i64 tokens_all, i32 heads, i32 dim, i32 q_row, i32 qh, i32 qw, i32 kh,   \
        i32 kw, i32 rows_h, i32 rows_w, i32 pitch, float hq, float hk, float ho, float wq, float wk, float wo)          \
    { pxl_dependent_launch();                                                                                        \
        rel_pos_tables<T>(q, rel_h, rel_w, y, tokens_all, heads, dim, q_row, qh, qw, kh, kw, rows_h, rows_w, pitch, hq, \
                          hk, ho, wq, wk, wo);                                                                       \
    }

PXL_REL_POS_TABLES(f32, float)
PXL_REL_POS_TABLES(bf16, bf16)
PXL_REL_POS_TABLES(f16, half)

#define PXL_REL_POS(suffix, T)                                                                                       \
    extern "C" __global__ void __launch_bounds__(32 * REL_WARPS) rel_pos_bias_##suffix(const T* q, const T* rel_h,    \
        const T* rel_w, T* y, i64 tokens_all, i32 heads, i32 dim, i32 q_row, i32 qh, i32 qw, i32 kh, i32 kw, float hq,  \
        float hk, float ho, float wq, float wk, float wo)                                                            \
    { pxl_dependent_launch();                                                                                        \
        rel_pos_warp<T>(q, rel_h, rel_w, y, tokens_all, heads, dim, q_row, qh, qw, kh, kw, hq, hk, ho, wq, wk, wo);  \
    }

PXL_REL_POS(f32, float)
PXL_REL_POS(bf16, bf16)
PXL_REL_POS(f16, half)
