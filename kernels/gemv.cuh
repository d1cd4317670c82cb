// The GEMV body shared by gemv.cu and gemv_attention.cu (its layout, norm, gating and cache-write semantics: gemv.cu's
// header). col_block is the block's column block (blockIdx.x for gemv.cu's grids; gemv_attention.cu orders its blocks by
// head instead).
#pragma once
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
                     const i32* __restrict__ y_position, i32 y_size, i32* error, const PxlPrefetch& prefetch, i32 col_block)
{
    // The requests for later launches go first, before anything is live: after the first loads they made the 8-row f32
    // kernels spill. They are a few instructions per thread.
    pxl_prefetch_l2(prefetch);
    constexpr int E = 16 / sizeof(T); // elements per vector load
    // Loads in flight per lane: the gated form issues two per step, so half the steps keep the same number; several
    // rows need registers for their x and sums, so they keep half (more spills).
    constexpr int UNROLL = (GATED ? GEMV_UNROLL / 2 : GEMV_UNROLL) / (R == 1 ? 1 : 2);
    const i32 lane = threadIdx.x & 31;
    const i32 col = col_block * GEMV_WARPS + (threadIdx.x >> 5);
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
            if (col_block == 0 && threadIdx.x == 0) pxl_fail(error, PXL_ERR_POSITION);
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
