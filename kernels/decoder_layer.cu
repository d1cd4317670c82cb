// T5DecoderLayerOp: a whole T5 decoder layer of a decode step (R ≤ 4 rows, one new position each) in one launch, instead
// of eight (gemv_rmsnorm_qkv, attention_decode, gemv + residual, gemv_rmsnorm, attention_decode, gemv + residual,
// gemv_rmsnorm_geglu, gemv + residual). Each of those launches was mostly latency: a 2048² bf16 GEMV streams 8 MB, 2 µs
// at the copy peak, yet took ~5 µs between graph nodes, and the attentions were pure latency.
// Dataflow, not a persistent grid: every block takes a ticket (atomicAdd) when it starts, and tickets are dealt phase
// by phase — qkv columns, self-attention heads, o columns, cross-q columns, cross-attention heads, cross-o columns,
// gated wi columns, wo columns. A block first requests its constant weights, then waits until every block of the phase
// it reads from has signalled. It only ever waits on smaller tickets, held by blocks that are already running, so the
// layer cannot deadlock however many blocks fit on the device, and while it waits its weight loads keep DRAM busy:
// the next phase's streaming overlaps the current phase's tail and the dependency hand-off.
// The hand-off between phases, the row staging and the attention phases are decoder_layer.cuh's.
// GEMV phases: one warp per output column, x rows staged in shared memory once per block, fp32 accumulation, the RMS
// norm folded in as gemv.cu folds it (weight × norm weight as it streams, inv_rms on the reduced sum). Every
// intermediate is rounded to T where the unfused ops round it. Attention phases: one block per (row, head) as
// attention_decode.cu: unscaled scores + bias [self] + mask_bias where the mask is 0, softmax, p·V.
// Preconditions (the host checks them and otherwise runs the eight ops): k, inner, dff multiples of 16 bytes of T,
// 16-byte aligned operands, head dim ≤ DL_MAX_D, R·max(d, inner, dff)·sizeof(T) ≤ DL_SMEM_BYTES, keys ≤ DL_MAX_KEYS.
// With dependent launch the kernel waits first, before its ticket: the previous launch resets the counters last.
// Launch: grid = (Σ phase blocks, 1, 1) (dl_phase_blocks), block = DL_THREADS. work holds q | o | x1 | cross q |
// cross o | x2 | h, each R rows padded to 128 bytes (dl_padded); counters: DL_COUNTERS i32, zero before the launch.
#include "decoder_layer.cuh"

#define DL_SMEM_BYTES 40960
#define DL_MAX_KEYS ((DL_SMEM_BYTES / 4) - DL_MAX_D - DL_WARPS * DL_MAX_D - 32)

PXL_DEVICE i32 dl_column_blocks(i32 n) { return (n + DL_WARPS - 1) / DL_WARPS; }

PXL_DEVICE i32 dl_phase_blocks(const DlSizes& s, i32 phase)
{
    switch (phase)
    {
    case DL_QKV: return dl_column_blocks(3 * s.inner);
    case DL_SELF: case DL_CROSS: return s.rows * s.heads;
    case DL_CROSS_Q: return dl_column_blocks(s.inner);
    case DL_GATED: return dl_column_blocks(s.dff);
    default: return dl_column_blocks(s.d);
    }
}

// What a warp requested of its column's weights before its block waited: the first batch in registers (w, u), or with
// ASYNC the first `pre` vectors copied into the warp's share of shared memory (wsm, usm; cp.async needs no registers,
// so the _async kernels hold fewer and more blocks fit per SM). xs: where the block stages its x rows.
template <int UNROLL>
struct DlFirst
{
    pxl_vec16 w[UNROLL], u[UNROLL];
    const pxl_vec16* wsm;
    const pxl_vec16* usm;
    i32 pre;
    pxl_vec16* xs;
};


// Requests the first weights of this warp's column (see DlFirst). With ASYNC each warp gets an equal, 512-byte-multiple
// share of what the block's x rows (rows · k) leave of DL_SMEM_BYTES, split between w and up when GATED.
template <typename T, int UNROLL, bool GATED, bool ASYNC>
PXL_DEVICE void dl_request(const T* weight, const T* up, i32 k, i32 rows, bool active, u8* smem, DlFirst<UNROLL>& f)
{
    constexpr int E = 16 / sizeof(T);
    const i32 lane = threadIdx.x & 31, nvec = k / E;
    f.pre = 0;
    f.xs = reinterpret_cast<pxl_vec16*>(smem);
    if (ASYNC)
    {
        const i32 share = max(DL_SMEM_BYTES - rows * k * (i32)sizeof(T), 0) / DL_WARPS / 512 * 512;
        pxl_vec16* mine = reinterpret_cast<pxl_vec16*>(smem + (threadIdx.x >> 5) * share);
        f.pre = active ? min(nvec, share / 16 / (GATED ? 2 : 1)) : 0;
        f.wsm = mine;
        f.usm = mine + f.pre;
        f.xs = reinterpret_cast<pxl_vec16*>(smem + DL_WARPS * share);
        for (i32 i = lane; i < f.pre; i += 32)
        {
            pxl_copy_async16(mine + i, reinterpret_cast<const pxl_vec16*>(weight) + i);
            if (GATED) pxl_copy_async16(mine + f.pre + i, reinterpret_cast<const pxl_vec16*>(up) + i);
        }
        pxl_copy_async_commit();
        return;
    }
#pragma unroll
    for (int u = 0; u < UNROLL; u++)
    {
        const i32 i = u * 32 + lane;
        f.w[u] = active && i < nvec ? reinterpret_cast<const pxl_vec16*>(weight)[i] : pxl_vec16{{0u, 0u, 0u, 0u}};
        if (GATED) f.u[u] = active && i < nvec ? reinterpret_cast<const pxl_vec16*>(up)[i] : pxl_vec16{{0u, 0u, 0u, 0u}};
    }
}

// After the wait: this thread's copies are done (the barrier in dl_stage_rows then shows every warp its share).
template <bool ASYNC> PXL_DEVICE void dl_copies_done()
{
    if (ASYNC) pxl_copy_async_wait_all();
}

// The product phases: warp w of the block computes output column `col` for every row. `weight` (and `up` when GATED)
// point at that column's K values; `out`/`residual` at its row-0 element, rows `row_stride` apart. `f` holds what
// dl_request requested before the block waited; `x` the rows staged in shared memory.
template <typename T, int R, int UNROLL, bool NORM, bool GATED, bool ASYNC>
PXL_DEVICE void dl_column(const T* __restrict__ weight, const T* __restrict__ up, const T* __restrict__ norm_weight,
                          const pxl_vec16* __restrict__ x, const float* inv_rms, i32 rows, i32 k, const DlFirst<UNROLL>& f,
                          const T* residual, T* out, i64 row_stride, bool active)
{
    constexpr int E = 16 / sizeof(T);
    const i32 lane = threadIdx.x & 31, nvec = k / E;
    const pxl_vec16* wv = reinterpret_cast<const pxl_vec16*>(weight);
    const pxl_vec16* uv = reinterpret_cast<const pxl_vec16*>(up);
    float acc[R], gate_up[R];
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = gate_up[r] = 0.0f;
    pxl_vec16 wbuf[UNROLL], ubuf[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) if (!ASYNC) { wbuf[u] = f.w[u]; if (GATED) ubuf[u] = f.u[u]; }
    for (i32 base = 0; active && base < nvec; base += 32 * UNROLL)
    {
        if (ASYNC || base > 0)
#pragma unroll
            for (int u = 0; u < UNROLL; u++)
            {
                const i32 i = base + u * 32 + lane;
                const bool early = ASYNC && i < f.pre;
                wbuf[u] = early ? f.wsm[i] : i < nvec ? wv[i] : pxl_vec16{{0u, 0u, 0u, 0u}};
                if (GATED) ubuf[u] = early ? f.usm[i] : i < nvec ? uv[i] : pxl_vec16{{0u, 0u, 0u, 0u}};
            }
#pragma unroll
        for (int u = 0; u < UNROLL; u++)
        {
            const i32 at = min(base + u * 32 + lane, nvec - 1); // past the end the weights are zeros
            float wf[E], uf[E];
            unpack(wbuf[u], wf, T());
            if (GATED) unpack(ubuf[u], uf, T());
            if (NORM)
            {
                float gf[E];
                unpack(reinterpret_cast<const pxl_vec16*>(norm_weight)[at], gf, T());
#pragma unroll
                for (int e = 0; e < E; e++) { wf[e] *= gf[e]; if (GATED) uf[e] *= gf[e]; }
            }
            dl_accumulate<T, R, GATED>(wf, uf, x, nvec, at, rows, acc, gate_up);
        }
    }
#pragma unroll
    for (int r = 0; r < R; r++)
    {
        if (r >= rows) continue; // warp-uniform
        const float sum = warp_sum(acc[r]);
        const float gated = GATED ? warp_sum(gate_up[r]) : 0.0f;
        if (active && lane == 0)
            out[r * row_stride] = dl_column_value<T, NORM, GATED>(sum, gated, NORM ? inv_rms[r] : 1.0f,
                                                                residual ? residual + r * row_stride : nullptr);
    }
}


// With PIXELLLM_PREFETCH_L2: this block's share (`unit` of its phase's blocks) of the next product phase's weights
// (from qkv: o's, skipping the attention between), and from the last phase, of the next layer's q, k and v.
template <typename T>
PXL_DEVICE void dl_prefetch_ahead(const DlSizes& s, i32 phase, i32 unit, const T* wo, const T* cross_wq, const T* cross_wo,
                                  const T* wi0, const T* wi1, const T* wo_ff, const PxlPrefetch& next_layer)
{
    const i32 parts = dl_phase_blocks(s, phase);
    const i64 square = (i64)s.d * s.inner * (i64)sizeof(T), wide = (i64)s.d * s.dff * (i64)sizeof(T);
    switch (phase)
    {
    case DL_QKV: pxl_prefetch_share((u64)wo, square, unit, parts); break;
    case DL_O: pxl_prefetch_share((u64)cross_wq, square, unit, parts); break;
    case DL_CROSS_Q: pxl_prefetch_share((u64)cross_wo, square, unit, parts); break;
    case DL_CROSS_O:
        pxl_prefetch_share((u64)wi0, wide, unit, parts);
        pxl_prefetch_share((u64)wi1, wide, unit, parts);
        break;
    case DL_GATED: pxl_prefetch_share((u64)wo_ff, wide, unit, parts); break;
    case DL_WO:
#pragma unroll
        for (int r = 0; r < PXL_PREFETCH_RANGES; r++)
            if (next_layer.bytes[r] > 0) pxl_prefetch_share(next_layer.address[r], next_layer.bytes[r], unit, parts);
        break;
    default: break; // the attention phases: no weights of their own to hand on
    }
}

template <typename T, int R, bool ASYNC>
PXL_DEVICE void decoder_layer(const T* x, const T* self_norm, const T* wq, const T* wk, const T* wv, const T* wo,
                              T* key_cache, T* value_cache, const i32* position, const T* bias, const u8* self_mask,
                              const T* cross_norm, const T* cross_wq, const T* cross_wo, const T* cross_keys,
                              const T* cross_values, const u8* cross_mask, const T* ff_norm, const T* wi0, const T* wi1,
                              const T* wo_ff, T* y, T* work, i32* counters, DlSizes s, float eps, float mask_bias, i32* error,
                              const PxlPrefetch& next_layer, i32 prefetch_phases)
{
    // Loads in flight per lane after the wait: the plain kernels keep a whole 2048-wide bf16 column in registers (fewer
    // for several rows and for the gated phase's two streams); the _async ones start from shared memory and keep few.
    constexpr int UNROLL = ASYNC ? 4 : 8 / (R == 1 ? 1 : 2), GATED_UNROLL = UNROLL / 2;
    __shared__ __align__(16) u8 smem[DL_SMEM_BYTES];
    __shared__ float inv_rms[4];
    __shared__ i32 ticket;
    if (threadIdx.x == 0) ticket = atomicAdd(counters, 1);
    __syncthreads();
    i32 unit = ticket, phase = 0;
    while (phase < DL_PHASES - 1 && unit >= dl_phase_blocks(s, phase)) unit -= dl_phase_blocks(s, phase++);
    i32* done = counters + 1;
    if (prefetch_phases) dl_prefetch_ahead<T>(s, phase, unit, wo, cross_wq, cross_wo, wi0, wi1, wo_ff, next_layer);

    const DlWork<T> rows = dl_work(work, s);
    T *q = rows.q, *o = rows.o, *x1 = rows.x1, *cq = rows.cq, *co = rows.co, *x2 = rows.x2, *h = rows.h;

    const i32 col = unit * DL_WARPS + (threadIdx.x >> 5);
    switch (phase)
    {
    case DL_QKV:
    {
        const bool active = col < 3 * s.inner;
        const i32 which = active ? col / s.inner : 0, c = col - which * s.inner;
        const T* w = (which == 0 ? wq : which == 1 ? wk : wv) + (i64)c * s.d;
        DlFirst<UNROLL> f;
        dl_request<T, UNROLL, false, ASYNC>(w, nullptr, s.d, s.rows, active, smem, f);
        dl_copies_done<ASYNC>();
        const i32 p = *position;
        const bool fits = p >= 0 && p < s.lmax;
        if (!fits && unit == 0 && threadIdx.x == 0) pxl_fail(error, PXL_ERR_POSITION);
        T* out = which == 0 ? q + c : (which == 1 ? key_cache : value_cache) + (i64)(fits ? p : 0) * s.inner + c;
        dl_stage_rows<T, true>(x, s.rows, s.d, eps, f.xs, inv_rms);
        dl_column<T, R, UNROLL, true, false, ASYNC>(w, nullptr, self_norm, f.xs, inv_rms, s.rows, s.d, f, nullptr, out,
                                             which == 0 ? (i64)s.inner : (i64)s.lmax * s.inner, active && (which == 0 || fits));
        dl_signal(done + DL_QKV);
        break;
    }
    case DL_SELF:
        dl_wait(done + DL_QKV, dl_phase_blocks(s, DL_QKV), error);
        dl_attention<T>(unit, s, q, key_cache, value_cache, bias, self_mask, s.lmax, mask_bias, o, reinterpret_cast<float*>(smem));
        dl_signal(done + DL_SELF);
        break;
    case DL_O:
    case DL_CROSS_O:
    case DL_WO:
    {
        // The output projections: o · woᵀ + the residual stream (x, x1, x2) → x1, x2, y.
        const bool active = col < s.d;
        const i32 k = phase == DL_WO ? s.dff : s.inner;
        const T* w = (phase == DL_O ? wo : phase == DL_CROSS_O ? cross_wo : wo_ff) + (i64)(active ? col : 0) * k;
        DlFirst<UNROLL> f;
        dl_request<T, UNROLL, false, ASYNC>(w, nullptr, k, s.rows, active, smem, f);
        dl_wait(done + phase - 1, dl_phase_blocks(s, phase - 1), error);
        dl_copies_done<ASYNC>();
        const T* src = phase == DL_O ? o : phase == DL_CROSS_O ? co : h;
        const T* residual = phase == DL_O ? x : phase == DL_CROSS_O ? x1 : x2;
        T* out = phase == DL_O ? x1 : phase == DL_CROSS_O ? x2 : y;
        dl_stage_rows<T, false>(src, s.rows, k, eps, f.xs, inv_rms);
        dl_column<T, R, UNROLL, false, false, ASYNC>(w, nullptr, nullptr, f.xs, inv_rms, s.rows, k, f, residual + col, out + col,
                                              (i64)s.d, active);
        dl_signal(done + phase);
        break;
    }
    case DL_CROSS_Q:
    {
        const bool active = col < s.inner;
        const T* w = cross_wq + (i64)(active ? col : 0) * s.d;
        DlFirst<UNROLL> f;
        dl_request<T, UNROLL, false, ASYNC>(w, nullptr, s.d, s.rows, active, smem, f);
        dl_wait(done + DL_O, dl_phase_blocks(s, DL_O), error);
        dl_copies_done<ASYNC>();
        dl_stage_rows<T, true>(x1, s.rows, s.d, eps, f.xs, inv_rms);
        dl_column<T, R, UNROLL, true, false, ASYNC>(w, nullptr, cross_norm, f.xs, inv_rms, s.rows, s.d, f, nullptr, cq + col,
                                             (i64)s.inner, active);
        dl_signal(done + DL_CROSS_Q);
        break;
    }
    case DL_CROSS:
        dl_wait(done + DL_CROSS_Q, dl_phase_blocks(s, DL_CROSS_Q), error);
        dl_attention<T>(unit, s, cq, cross_keys, cross_values, nullptr, cross_mask, s.lm, mask_bias, co, reinterpret_cast<float*>(smem));
        dl_signal(done + DL_CROSS);
        break;
    default: // DL_GATED: gelu_tanh(n·wi_0) ⊙ (n·wi_1), n = RmsNorm(x2)
    {
        const bool active = col < s.dff;
        const T* w = wi0 + (i64)(active ? col : 0) * s.d;
        const T* u = wi1 + (i64)(active ? col : 0) * s.d;
        DlFirst<GATED_UNROLL> g;
        dl_request<T, GATED_UNROLL, true, ASYNC>(w, u, s.d, s.rows, active, smem, g);
        dl_wait(done + DL_CROSS_O, dl_phase_blocks(s, DL_CROSS_O), error);
        dl_copies_done<ASYNC>();
        dl_stage_rows<T, true>(x2, s.rows, s.d, eps, g.xs, inv_rms);
        dl_column<T, R, GATED_UNROLL, true, true, ASYNC>(w, u, ff_norm, g.xs, inv_rms, s.rows, s.d, g, nullptr, h + col,
                                                  (i64)s.dff, active);
        dl_signal(done + DL_GATED);
        break;
    }
    }

    i32 blocks = 0;
    for (i32 p = 0; p < DL_PHASES; p++) blocks += dl_phase_blocks(s, p);
    dl_finish(counters, blocks);
}

// decoder_layer_<t>_r<R>: the plain kernels (weights requested into registers). decoder_layer_async_<t>_r1: one row, the
// first weights copied into shared memory (cp.async), capped at 64 registers so that 4 blocks fit per SM instead of 2.
#define PXL_DECODER_LAYER(name, suffix, T, R, ASYNC, ...) \
    PXL_DECODER_LAYER_ENTRY(name##_##suffix##_r##R, T, (decoder_layer<T, R, ASYNC>), __VA_ARGS__)

#define PXL_DECODER_LAYER_TYPE(suffix, T)                                                                           \
    PXL_DECODER_LAYER(decoder_layer, suffix, T, 1, false, DL_THREADS)                                               \
    PXL_DECODER_LAYER(decoder_layer, suffix, T, 2, false, DL_THREADS)                                               \
    PXL_DECODER_LAYER(decoder_layer, suffix, T, 4, false, DL_THREADS)                                               \
    PXL_DECODER_LAYER(decoder_layer_async, suffix, T, 1, true, DL_THREADS, 4)

PXL_DECODER_LAYER_TYPE(f32, float)
PXL_DECODER_LAYER_TYPE(bf16, bf16)
PXL_DECODER_LAYER_TYPE(f16, half)
