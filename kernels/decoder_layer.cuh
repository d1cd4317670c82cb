// The dataflow machinery both one-launch T5 decoder layers share (decoder_layer.cu: a block per ticket;
// decoder_layer_stream.cu: persistent blocks streaming weights through shared memory): the phase order, the sizes,
// the hand-off between phases (handoff.cuh), row staging with the RMS norm, and one (row, head) of attention. The
// intermediates are 128-byte aligned, so no cache line read early (the end of q, say) holds a stale part of another
// (the start of o). The last block to finish resets the counters to zero for the next launch (the host zeroes them
// once, on allocation).
#pragma once
#include "handoff.cuh"
#include "prefetch.cuh"
#include "attention_row.cuh"

#define DL_WARPS 8
#define DL_THREADS (DL_WARPS * 32)
#define DL_MAX_D 128
static_assert(DL_MAX_D == PXL_ROW_MAX_D, "the attention phases share attention_row.cuh's p·V accumulators");
#define DL_PHASES 8
#define DL_COUNTERS (DL_PHASES + 2) // ticket, one per phase, finished blocks

enum DlPhase { DL_QKV, DL_SELF, DL_O, DL_CROSS_Q, DL_CROSS, DL_CROSS_O, DL_GATED, DL_WO };

struct DlSizes
{
    i32 rows, d, inner, dff, heads, lmax, lm;
};

// Elements of T an intermediate (q, o, x1, cross q, cross o, x2, h) takes, rounded up to a 128-byte cache line.
PXL_DEVICE i64 dl_padded(i64 elements, i32 size) { const i64 per = 128 / size; return (elements + per - 1) / per * per; }

// Where the intermediates live in `work`: q | o | x1 | cross q | cross o | x2 | h, each R rows padded to 128 bytes.
template <typename T>
struct DlWork
{
    T *q, *o, *x1, *cq, *co, *x2, *h;
};

template <typename T>
PXL_DEVICE DlWork<T> dl_work(T* work, const DlSizes& s)
{
    const i32 es = (i32)sizeof(T);
    const i64 inner_rows = dl_padded((i64)s.rows * s.inner, es), model_rows = dl_padded((i64)s.rows * s.d, es);
    DlWork<T> w;
    w.q = work;
    w.o = w.q + inner_rows;
    w.x1 = w.o + inner_rows;
    w.cq = w.x1 + model_rows;
    w.co = w.cq + inner_rows;
    w.x2 = w.co + inner_rows;
    w.h = w.x2 + model_rows;
    return w;
}

// The layer kernels' DL_COUNTERS (the last, DL_PHASES + 1, counts finished blocks) left zero by the last block out.
PXL_DEVICE void dl_finish(i32* counters, i32 blocks) { dl_finish_counters(counters, DL_COUNTERS, blocks); }

// One weight vector (w, and u when GATED; any norm already folded in) times vector `at` of each staged row of x.
template <typename T, int R, bool GATED>
PXL_DEVICE void dl_accumulate(const float* wf, const float* uf, const pxl_vec16* x, i32 nvec, i32 at, i32 rows, float* acc,
                              float* gate_up)
{
    constexpr int E = 16 / sizeof(T);
#pragma unroll
    for (int r = 0; r < R; r++)
    {
        if (r >= rows) continue;
        float xf[E];
        unpack(x[r * nvec + at], xf, T());
#pragma unroll
        for (int e = 0; e < E; e++)
        {
            acc[r] = fmaf(wf[e], xf[e], acc[r]);
            if (GATED) gate_up[r] = fmaf(uf[e], xf[e], gate_up[r]);
        }
    }
}

// A product column's reduced sum as the unfused ops round it: × 1/rms when NORM, gelu_tanh(sum) · (gate_up / rms) when
// GATED, + the residual (if any), to T.
template <typename T, bool NORM, bool GATED>
PXL_DEVICE T dl_column_value(float sum, float gate_up, float inv_rms, const T* residual)
{
    if (NORM) sum *= inv_rms;
    if (GATED) sum = gelu_tanh(sum) * (gate_up * inv_rms);
    return from_float<T>(residual ? sum + to_float(*residual) : sum);
}

// Stages rows (R, k) of src in shared memory; with NORM, inv_rms[r] = 1/√(mean(x²) + eps) per row.
template <typename T, bool NORM>
PXL_DEVICE void dl_stage_rows(const T* src, i32 rows, i32 k, float eps, pxl_vec16* x, float* inv_rms)
{
    constexpr int E = 16 / sizeof(T);
    const i32 total = rows * (k / E);
    for (i32 i = threadIdx.x; i < total; i += DL_THREADS) x[i] = reinterpret_cast<const pxl_vec16*>(src)[i];
    __syncthreads();
    if (!NORM) return;
    const i32 warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (i32 r = warp; r < rows; r += DL_WARPS)
    {
        float squares = 0.0f;
        for (i32 i = lane; i < k / E; i += 32)
        {
            float f[E];
            unpack(x[r * (k / E) + i], f, T());
#pragma unroll
            for (int e = 0; e < E; e++) squares = fmaf(f[e], f[e], squares);
        }
        squares = warp_sum(squares);
        if (lane == 0) inv_rms[r] = rsqrtf(squares / (float)k + eps);
    }
    __syncthreads();
}

// One (row, head) of attention: q (R, inner), keys/values (R, lk, inner), bias (1, H, 1, lk) or null, mask (R, 1, 1, lk).
template <typename T>
PXL_DEVICE void dl_attention(i32 unit, const DlSizes& s, const T* q, const T* keys, const T* values, const T* bias,
                             const u8* mask, i32 lk, float mask_bias, T* out, float* smem)
{
    float* query = smem;
    float* partial = query + DL_MAX_D;
    float* scratch = partial + DL_WARPS * DL_MAX_D;
    float* scores = scratch + 32;
    const i32 tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const i32 r = unit / s.heads, h = unit % s.heads, hd = s.inner / s.heads;
    const i64 head = (i64)h * hd;
    for (i32 d = tid; d < hd; d += DL_THREADS) query[d] = to_float(q[(i64)r * s.inner + head + d]);
    __syncthreads();
    // Every load of a pass (the key's elements, its bias and mask) is issued before the first product, so a pass waits
    // one memory round trip; the products and sums run in the same order as ever.
    const i32 sub = tid % PXL_ROW_KEY_LANES, group = tid / PXL_ROW_KEY_LANES;
    for (i32 first = 0; first < lk; first += DL_THREADS / PXL_ROW_KEY_LANES)
    {
        const i32 j = first + group;
        float element[PXL_ROW_KEY_AHEAD], extra = 0.0f;
        bool hidden = false;
        const T* key = keys + ((i64)r * lk + min(j, lk - 1)) * s.inner + head;
        row_key_ahead(element, key, j < lk, hd, sub);
        if (j < lk && sub == 0)
        {
            if (bias) extra = to_float(bias[(i64)h * lk + j]);
            hidden = mask[(i64)r * lk + j] == 0;
        }
        float dot = row_key_dot(element, query, key, j < lk, hd, sub);
        for (int offset = PXL_ROW_KEY_LANES / 2; offset > 0; offset >>= 1) dot += __shfl_xor_sync(PXL_FULL_MASK, dot, offset);
        if (j < lk && sub == 0)
        {
            float score = dot;
            if (bias) score += extra;
            if (hidden) score += mask_bias;
            scores[j] = score;
        }
    }
    __syncthreads();
    float local_max = pxl_neg_inf();
    for (i32 j = tid; j < lk; j += DL_THREADS) local_max = fmaxf(local_max, scores[j]);
    const float row_max = block_max(local_max, scratch);
    float local_sum = 0.0f;
    for (i32 j = tid; j < lk; j += DL_THREADS)
    {
        const float p = row_max == pxl_neg_inf() ? 0.0f : expf(scores[j] - row_max);
        scores[j] = p;
        local_sum += p;
    }
    // Every key hidden: a NaN row, as attention_decode.cu and the CPU give.
    const float inv = row_max == pxl_neg_inf() ? pxl_nan() : 1.0f / block_sum(local_sum, scratch);
    __syncthreads();
    float acc[DL_MAX_D / 32] = {0.0f, 0.0f, 0.0f, 0.0f};
    row_values_accumulate(scores, lk, values + (i64)r * lk * s.inner + head, (i64)s.inner, hd, warp, DL_WARPS, acc,
                          [](const T* p) { return to_float(*p); });
#pragma unroll
    for (int c = 0; c < DL_MAX_D / 32; c++)
        if (lane + 32 * c < hd) partial[warp * DL_MAX_D + lane + 32 * c] = acc[c];
    __syncthreads();
    for (i32 d = tid; d < hd; d += DL_THREADS)
    {
        float sum = 0.0f;
        for (i32 w = 0; w < DL_WARPS; w++) sum += partial[w * DL_MAX_D + d];
        out[(i64)r * s.inner + head + d] = from_float<T>(sum * inv);
    }
}

// The kernel entry of decoder_layer.cu for every type and row count: the host's argument list (CudaOps.DecoderLayer), the
// sizes gathered into DlSizes, and BODY, a device function template taking the same arguments; the launch bounds last.
// next_layer / prefetch_phases: PIXELLLM_PREFETCH_L2's requests (prefetch.cuh); empty and 0 when it is off.
#define PXL_DECODER_LAYER_ENTRY(entry, T, BODY, ...)                                                                \
    extern "C" __global__ void __launch_bounds__(__VA_ARGS__) entry(                                                      \
        const T* x, const T* self_norm, const T* wq, const T* wk, const T* wv, const T* wo, T* key_cache,           \
        T* value_cache, const i32* position, const T* bias, const u8* self_mask, const T* cross_norm,               \
        const T* cross_wq, const T* cross_wo, const T* cross_keys, const T* cross_values, const u8* cross_mask,     \
        const T* ff_norm, const T* wi0, const T* wi1, const T* wo_ff, T* y, T* work, i32* counters, i32 rows, i32 d, \
        i32 inner, i32 dff, i32 heads, i32 lmax, i32 lm, float eps, float mask_bias, i32* error,                    \
        PxlPrefetch next_layer, i32 prefetch_phases)                                                                \
    { pxl_dependent_launch();                                                                                        \
        BODY(x, self_norm, wq, wk, wv, wo, key_cache, value_cache, position, bias, self_mask, cross_norm, cross_wq,  \
             cross_wo, cross_keys, cross_values, cross_mask, ff_norm, wi0, wi1, wo_ff, y, work, counters,            \
             DlSizes{rows, d, inner, dff, heads, lmax, lm}, eps, mask_bias, error, next_layer, prefetch_phases);     \
    }
