// RelPosBiasOp (SAM decomposed relative position) as the terms attention sums per key: q (B, Qh·Qw, H·D) unscaled, its
// tokens q_row elements apart (H·D, or 3·H·D when q is the first third of a packed q | k | v row),
// tables rel_h (2·max(Qh,Kh)−1, D) and rel_w → t (B, H, Qh·Qw, Kh + Kw) with t[(i,j), m] = q·rel_h[idx_h(i,m)] and
// t[(i,j), Kh + n] = q·rel_w[idx_w(j,n)], where idx(a, b) = (i32)(a·a_scale − b·b_scale + offset) in fp32 exactly as the
// CPU backend rounds it (no FMA contraction). The attention kernels add t[m] + t[Kh + n] to key (m, n)'s score
// (attention_bias in prelude.cuh), so the Qh·Qw × Kh·Kw bias is never written.
// One block per (b, h, query token): the query in shared memory, one thread per term.
// Launch: grid = B·H·Qh·Qw, block = (32·k, 1, 1) with k ≤ 8; D ≤ 256, Kh and Kw ≤ 256.
#include "prelude.cuh"

#define PXL_REL_MAX 256

PXL_DEVICE i32 rel_index(i32 query, i32 key, float query_scale, float key_scale, float offset)
{
    return (i32)__fadd_rn(__fsub_rn(__fmul_rn((float)query, query_scale), __fmul_rn((float)key, key_scale)), offset);
}

template <typename T>
PXL_DEVICE void rel_pos_block(const T* __restrict__ q, const T* __restrict__ rel_h, const T* __restrict__ rel_w, T* __restrict__ y,
                              i32 heads, i32 dim, i32 q_row, i32 qh, i32 qw, i32 kh, i32 kw, float hq, float hk, float ho, float wq, float wk,
                              float wo)
{
    __shared__ float query[PXL_REL_MAX];
    const i32 token = blockIdx.x % (qh * qw), h = blockIdx.x / (qh * qw) % heads;
    const i64 b = blockIdx.x / (qh * qw) / heads;
    const i32 i = token / qw, j = token % qw;
    for (i32 d = threadIdx.x; d < dim; d += blockDim.x) query[d] = to_float(q[(b * qh * qw + token) * q_row + h * dim + d]);
    __syncthreads();
    T* out = y + (((b * heads + h) * qh * qw) + token) * (i64)(kh + kw);
    for (i32 t = threadIdx.x; t < kh + kw; t += blockDim.x)
    {
        const T* row = t < kh ? rel_h + (i64)rel_index(i, t, hq, hk, ho) * dim : rel_w + (i64)rel_index(j, t - kh, wq, wk, wo) * dim;
        float dot = 0.0f;
        for (i32 d = 0; d < dim; d++) dot += query[d] * to_float(row[d]);
        out[t] = from_float<T>(dot);
    }
}

#define PXL_REL_POS(suffix, T)                                                                                       \
    extern "C" __global__ void __launch_bounds__(256) rel_pos_bias_##suffix(const T* q, const T* rel_h, const T* rel_w, T* y, \
        i32 heads, i32 dim, i32 q_row, i32 qh, i32 qw, i32 kh, i32 kw, float hq, float hk, float ho, float wq, float wk, float wo) \
    { pxl_dependent_launch();                                                                                        \
        rel_pos_block<T>(q, rel_h, rel_w, y, heads, dim, q_row, qh, qw, kh, kw, hq, hk, ho, wq, wk, wo);             \
    }

PXL_REL_POS(f32, float)
PXL_REL_POS(bf16, bf16)
PXL_REL_POS(f16, half)
