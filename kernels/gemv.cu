// GEMV for few rows: y (rows, N) = x (rows, K) · W (N, K)ᵀ [+ bias (N)] [+ residual (rows, N)], rows ≤ R ∈ {1, 2, 4, 8}. This is the decode
// step's Linear (one token per beam), where cuBLAS's M = 1 GEMM reaches a fraction of the memory bandwidth: the whole
// cost is streaming W once, so one pass over each weight row serves every input row.
// Layout: one warp per output column; lanes stride K with 16-byte loads of W (8 bf16/f16 or 4 f32) when K is a multiple
// of that and both x and W are 16-byte aligned, scalar loads otherwise; GEMV_UNROLL loads in flight per lane before
// any arithmetic (8 for one row: a whole 2048-wide bf16 column in one round trip). x is re-read per column through L1
// (every warp of the SM reads the same few KB). fp32 accumulation, one warp reduction per row, one rounding to the
// storage type after the bias and the residual (the skip connection of a decode step's output projections, added here
// instead of in a separate launch).
// With norm_weight (RmsNormLinearOp, T5's pre-norm q/k/v and wi projections) x is RMS-normalised on the fly, one launch
// instead of RmsNorm + gemv: Σ_k w_k·(x_k·inv_rms·g_k) = inv_rms · Σ_k (w_k·g_k)·x_k, so the weight is scaled by the norm
// weight as it streams in and the row's inv_rms = 1/√(mean(x²) + eps) multiplies the reduced sum. Every warp sums x² of
// the x vectors its main loop loads anyway (a shared-memory hand-off would need a barrier that warps past N never reach).
// With w_up (gemv_rmsnorm_geglu, RmsNormGeGluOp: the first half of T5's gated feed-forward) each warp streams the same
// column of two weights and writes gelu_tanh(x·wᵀ)·(x·w_upᵀ): wi_0, wi_1 and the GeGLU in one launch.
// Output rows are y_row_stride apart (N for a plain (rows, N) output). With y_position the rows land at slot *y_position
// of a (rows, y_size, N) KV cache instead: the projection is written into the cache in the same launch; a slot outside
// [0, y_size) raises PXL_ERR_POSITION and that product writes nothing (every thread checks it).
// gemv_[rmsnorm_]qkv (QkvProjectionOp) is three products of one x in one launch: grid.y picks the weight, the bias and
// the destination — 0: q (rows, N); 1, 2: the key and value caches at *y_position. One launch instead of three keeps
// three times the loads in flight (each 2048² product alone is one DRAM round trip plus a launch).
// Launch: grid = (ceil(N / GEMV_WARPS), 1 or 3 for qkv, 1), block = (32·GEMV_WARPS, 1, 1); bias, residual, norm_weight
// and y_position may be null; residual may be y itself (each element is read before it is written, by the same lane).
// prefetch (prefetch.cuh): byte ranges of later launches' weights to request into L2 before this launch's wait; all empty
// outside a prefetching decoder stack.
#include "prefetch.cuh"

#define GEMV_WARPS 4
#define GEMV_UNROLL 8

// Σ x² of one row over this lane's share (scalar path; the vector path sums the squares as x streams through its loop).
template <typename T>
PXL_DEVICE float row_squares(const T* __restrict__ xr, i32 k, i32 lane)
{
    float squares = 0.0f;
    for (i32 i = lane; i < k; i += 32)
    {
        const float f = to_float(xr[i]);
        squares = fmaf(f, f, squares);
    }
    return squares;
}

// One batch of UNROLL 16-byte weight vectors per lane (past the end: zeros, which multiply a clamped x).
template <int UNROLL, bool GATED>
PXL_DEVICE void load_weights(const pxl_vec16* wv, const pxl_vec16* uv, i32 base, i32 nvec, i32 lane, pxl_vec16* wbuf, pxl_vec16* ubuf)
{
#pragma unroll
    for (int u = 0; u < UNROLL; u++)
    {
        const i32 i = base + u * 32 + lane;
        wbuf[u] = i < nvec ? wv[i] : pxl_vec16{{0u, 0u, 0u, 0u}};
        if (GATED) ubuf[u] = i < nvec ? uv[i] : pxl_vec16{{0u, 0u, 0u, 0u}};
    }
}

// The kernel body, which calls pxl_dependent_launch() itself: the weights are constants, so the first batch of them
// (the whole column when K·size ≤ 32·UNROLL·16 bytes, i.e. K ≤ 2048 in bf16) is requested before waiting for the
// predecessor — with dependent launch that DRAM round trip overlaps the previous kernel's tail. Nothing the
// predecessor writes (x, the residual, y_position) is read before the wait.
template <typename T, int R, bool NORM, bool GATED>
PXL_DEVICE void gemv(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ w_up, const T* __restrict__ bias, const T* residual,
                     const T* __restrict__ norm_weight, T* y, i32 rows, i32 n, i32 k, float norm_eps, i64 y_row_stride,
                     const i32* __restrict__ y_position, i32 y_size, i32* error, const PxlPrefetch& prefetch)
{
    // The requests for later launches go first, before anything is live: after the first loads they made the 8-row f32
    // kernels spill. They are a few instructions per thread.
    pxl_prefetch_l2(prefetch);
    constexpr int E = 16 / sizeof(T); // elements per vector load
    // Loads in flight per lane: the gated form issues two per step, so half the steps keep the same number; several
    // rows need registers for their x and sums, so they keep half (more spills).
    constexpr int UNROLL = (GATED ? GEMV_UNROLL / 2 : GEMV_UNROLL) / (R == 1 ? 1 : 2);
    const i32 lane = threadIdx.x & 31;
    const i32 col = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    const bool active = col < n; // warp-uniform: no barrier follows
    const T* wcol = w + (i64)col * k;
    const T* ucol = GATED ? w_up + (i64)col * k : nullptr;
    const bool vector = k % E == 0 && ((u64)x & 15) == 0 && ((u64)w & 15) == 0 && (!NORM || ((u64)norm_weight & 15) == 0)
                        && (!GATED || ((u64)w_up & 15) == 0);
    const i32 nvec = k / E;
    const pxl_vec16* wv = reinterpret_cast<const pxl_vec16*>(wcol);
    const pxl_vec16* uv = reinterpret_cast<const pxl_vec16*>(ucol);
    pxl_vec16 wbuf[UNROLL], ubuf[UNROLL];
    if (active && vector) load_weights<UNROLL, GATED>(wv, uv, 0, nvec, lane, wbuf, ubuf);

    pxl_dependent_launch();

    i64 y_offset = 0;
    if (y_position != nullptr)
    {
        const i32 p = *y_position;
        if (p < 0 || p >= y_size)
        {
            if (blockIdx.x == 0 && threadIdx.x == 0) pxl_fail(error, PXL_ERR_POSITION);
            return;
        }
        y_offset = (i64)p * n;
    }
    if (!active) return;

    float acc[R], up[R], squares[R];
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = up[r] = squares[r] = 0.0f;

    if (vector)
    {
        const pxl_vec16* xv = reinterpret_cast<const pxl_vec16*>(x);
        for (i32 base = 0; base < nvec; base += 32 * UNROLL)
        {
            if (base > 0) load_weights<UNROLL, GATED>(wv, uv, base, nvec, lane, wbuf, ubuf);
#pragma unroll
            for (int u = 0; u < UNROLL; u++)
            {
                const i32 i = base + u * 32 + lane;
                const i32 at = min(i, nvec - 1);
                float wf[E], uf[E];
                unpack(wbuf[u], wf, T());
                if (GATED) unpack(ubuf[u], uf, T());
                if (NORM)
                {
                    const pxl_vec16 gvec = reinterpret_cast<const pxl_vec16*>(norm_weight)[at];
                    float gf[E];
                    unpack(gvec, gf, T());
#pragma unroll
                    for (int e = 0; e < E; e++)
                    {
                        wf[e] *= gf[e];
                        if (GATED) uf[e] *= gf[e];
                    }
                }
#pragma unroll
                for (int r = 0; r < R; r++)
                {
                    if (r >= rows) continue;
                    const pxl_vec16 xvec = xv[(i64)r * nvec + at]; // a copy first, so it stays one vector load
                    float xf[E];
                    unpack(xvec, xf, T());
#pragma unroll
                    for (int e = 0; e < E; e++)
                    {
                        acc[r] = fmaf(wf[e], xf[e], acc[r]);
                        if (GATED) up[r] = fmaf(uf[e], xf[e], up[r]);
                        if (NORM && i < nvec) squares[r] = fmaf(xf[e], xf[e], squares[r]);
                    }
                }
            }
        }
    }
    else
    {
        for (i32 i = lane; i < k; i += 32)
        {
            const float g = NORM ? to_float(norm_weight[i]) : 1.0f;
            const float wf = NORM ? to_float(wcol[i]) * g : to_float(wcol[i]);
            const float uf = GATED ? (NORM ? to_float(ucol[i]) * g : to_float(ucol[i])) : 0.0f;
#pragma unroll
            for (int r = 0; r < R; r++)
                if (r < rows)
                {
                    const float xf = to_float(x[(i64)r * k + i]);
                    acc[r] = fmaf(wf, xf, acc[r]);
                    if (GATED) up[r] = fmaf(uf, xf, up[r]);
                }
        }
        if (NORM)
#pragma unroll
            for (int r = 0; r < R; r++)
                if (r < rows) squares[r] = row_squares(x + (i64)r * k, k, lane);
    }

    const float b = bias ? to_float(bias[col]) : 0.0f;
#pragma unroll
    for (int r = 0; r < R; r++)
    {
        if (r >= rows) continue; // uniform across the warp, so the shuffles stay converged
        float sum = warp_sum(acc[r]), gate_up = GATED ? warp_sum(up[r]) : 0.0f;
        if (NORM)
        {
            const float inv = rsqrtf(warp_sum(squares[r]) / (float)k + norm_eps);
            sum *= inv;
            gate_up *= inv;
        }
        if (GATED) sum = gelu_tanh(sum) * gate_up;
        if (lane == 0)
        {
            const float out = residual ? sum + b + to_float(residual[(i64)r * n + col]) : sum + b;
            y[(i64)r * y_row_stride + y_offset + col] = from_float<T>(out);
        }
    }
}

// gemv_<t>_r<R>: the plain product; gemv_rmsnorm_<t>_r<R>: with the RMS-norm prologue; gemv_rmsnorm_geglu_<t>_r<R>:
// also the second weight and the GeGLU. Each has its own registers, so the plain kernels keep their occupancy; all take the
// same parameters and ignore what they do not use.
#define PXL_GEMV(name, norm, gated, suffix, T, R)                                                                   \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) name##_##suffix##_r##R(                            \
        const T* x, const T* w, const T* w_up, const T* bias, const T* residual, const T* norm_weight, T* y, i32 rows, \
        i32 n, i32 k, float norm_eps, i64 y_row_stride, const i32* y_position, i32 y_size, i32* error,              \
        PxlPrefetch prefetch)                                                                                       \
    {                                                                                                               \
        gemv<T, R, norm, gated>(x, w, w_up, bias, residual, norm_weight, y, rows, n, k, norm_eps, y_row_stride,      \
                                y_position, y_size, error, prefetch);                                               \
    }

#define PXL_GEMV_ALL_ROWS(name, norm, gated, suffix, T)                                                             \
    PXL_GEMV(name, norm, gated, suffix, T, 1) PXL_GEMV(name, norm, gated, suffix, T, 2)                              \
    PXL_GEMV(name, norm, gated, suffix, T, 4) PXL_GEMV(name, norm, gated, suffix, T, 8)

#define PXL_GEMV_ALL_TYPES(name, norm, gated)                                                                       \
    PXL_GEMV_ALL_ROWS(name, norm, gated, f32, float) PXL_GEMV_ALL_ROWS(name, norm, gated, bf16, bf16)                \
    PXL_GEMV_ALL_ROWS(name, norm, gated, f16, half)

PXL_GEMV_ALL_TYPES(gemv, false, false)
PXL_GEMV_ALL_TYPES(gemv_rmsnorm, true, false)
PXL_GEMV_ALL_TYPES(gemv_rmsnorm_geglu, true, true)

// gemv_qkv / gemv_rmsnorm_qkv: which product this block computes — the same body, the weight, the bias (or none) and the
// destination chosen by blockIdx.y.
#define PXL_GEMV_QKV(name, norm, suffix, T, R)                                                                      \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) name##_##suffix##_r##R(                            \
        const T* x, const T* wq, const T* wk, const T* wv, const T* bq, const T* bk, const T* bv, const T* norm_weight, \
        T* q, T* key_cache, T* value_cache, i32 rows, i32 n, i32 k, float norm_eps, const i32* y_position, i32 y_size,  \
        i32* error, PxlPrefetch prefetch)                                                                           \
    {                                                                                                               \
        gemv<T, R, norm, false>(x, blockIdx.y == 0 ? wq : blockIdx.y == 1 ? wk : wv, nullptr,                       \
                                blockIdx.y == 0 ? bq : blockIdx.y == 1 ? bk : bv, nullptr, norm_weight,             \
                                blockIdx.y == 0 ? q : blockIdx.y == 1 ? key_cache : value_cache, rows, n, k, norm_eps, \
                                blockIdx.y == 0 ? (i64)n : (i64)y_size * n, blockIdx.y == 0 ? nullptr : y_position,  \
                                y_size, error, prefetch);                                                           \
    }

#define PXL_GEMV_QKV_ALL_ROWS(name, norm, suffix, T)                                                                \
    PXL_GEMV_QKV(name, norm, suffix, T, 1) PXL_GEMV_QKV(name, norm, suffix, T, 2)                                    \
    PXL_GEMV_QKV(name, norm, suffix, T, 4) PXL_GEMV_QKV(name, norm, suffix, T, 8)

#define PXL_GEMV_QKV_ALL_TYPES(name, norm)                                                                          \
    PXL_GEMV_QKV_ALL_ROWS(name, norm, f32, float) PXL_GEMV_QKV_ALL_ROWS(name, norm, bf16, bf16)                      \
    PXL_GEMV_QKV_ALL_ROWS(name, norm, f16, half)

PXL_GEMV_QKV_ALL_TYPES(gemv_qkv, false)
PXL_GEMV_QKV_ALL_TYPES(gemv_rmsnorm_qkv, true)
