// T5DecoderStackOp (and T5DecoderLayerOp, a stack of one) in one launch, streamed: decoder_layer.cu's layer and phases,
// for up to DS_MAX_LAYERS layers in a row, on a persistent grid (a few blocks per SM) in which every block keeps
// DS_STAGES tiles of weights in flight through shared memory. decoder_layer.cu gives each block one ticket and only its
// own columns to prefetch while it waits, so at a phase hand-off little is requested and DRAM idles (H200 run 10: 1.6
// TB/s over a layer); and a launch per layer drains the grid between layers. Here a block holds the tickets of its next
// DS_STAGES tiles at once and has their weights copied (cp.async) as soon as it takes them; a tile's wait for its inputs
// therefore overlaps the copies of the tiles after it, across phase hand-offs, attention phases and layers alike.
// Tickets: tile t of the stack is dealt in order (layer by layer; in a layer qkv, self, o, cross q, cross, cross o, gated,
// wo); a block takes its first DS_STAGES at once and then one per tile it finishes. A block works its tickets in
// increasing order and a tile waits only for earlier phases (a layer's qkv for the previous layer's wo), so the holder of
// the smallest unfinished ticket is running with its inputs complete: no deadlock, however many blocks are resident.
// Layers: the first reads x, every layer writes y and every later one reads y as its x (it has read it, in its qkv and o
// phases, before its wo phase writes y). The intermediates in `work` are reused by every layer: a layer's qkv runs only
// once the previous layer's wo, and so all of that layer, is complete.
// Product tiles: DL_WARPS warp shares of DS_WARP_BYTES. A column's K values (both gated streams) are split over
// `split` ∈ {1, 2, 4, 8} warps so that a share fits; a tile covers DL_WARPS / split columns. Each lane copies the vectors
// it later multiplies (thread 0's are lane 1's: see ds_request), then waits for its copies and syncs its warp. The input rows
// (and the RMS norm's weight and 1/rms) are staged once each time a block moves to a new phase. Sums, rounding and the
// norm folding are decoder_layer.cu's; the split warps' partial sums are added in warp order (deterministic).
// Attention tiles: one (row, head) as decoder_layer.cu, with the tile's stage buffer as its scratch.
// Preconditions (the host checks them and otherwise uses decoder_layer.cu or the eight ops, layer by layer):
// decoder_layer.cu's, a split for every product phase, keys ≤ DS_MAX_KEYS, and the dynamic shared memory below.
// Launch: grid = (a few blocks per SM; any count is correct), block = DL_THREADS, dynamic shared memory =
// DS_STAGES·DS_STAGE_BYTES + R·max(d, inner, dff)·sizeof(T) + d·sizeof(T) (the host's StreamLayerSharedBytes);
// counters: 2 + DL_PHASES·layers, zero before the first launch (the last block out leaves them zero).
#include "decoder_layer.cuh"

#define DS_STAGES 3
#define DS_WARP_BYTES 4096
#define DS_STAGE_BYTES (DL_WARPS * DS_WARP_BYTES)
#define DS_MAX_KEYS ((DS_STAGE_BYTES / 4) - DL_MAX_D - DL_WARPS * DL_MAX_D - 32)
#define DS_MAX_LAYERS 24

// A layer's own tensors, in the order of the host's T5DecoderStackOp.PerLayerInputs.
enum DsLayerPointer
{
    DS_SELF_NORM, DS_WQ, DS_WK, DS_WV, DS_WO, DS_KEY_CACHE, DS_VALUE_CACHE, DS_CROSS_NORM, DS_CROSS_WQ, DS_CROSS_WO,
    DS_CROSS_KEYS, DS_CROSS_VALUES, DS_FF_NORM, DS_WI0, DS_WI1, DS_WO_FF, DS_LAYER_POINTERS
};

// Every layer's tensors by value (3 KB of the 4 KB parameter space); matches the backend's DecoderLayerTable.
struct DsLayerTable { u64 p[DS_MAX_LAYERS * DS_LAYER_POINTERS]; };

template <typename T>
PXL_DEVICE T* ds_tensor(const DsLayerTable& t, i32 layer, i32 which)
{
    return reinterpret_cast<T*>(t.p[layer * DS_LAYER_POINTERS + which]);
}

// One product phase: its input width k, output columns n, and whether it folds the RMS norm / is the gated pair.
struct DsProduct
{
    i32 k, n;
    bool norm, gated;
};

PXL_DEVICE DsProduct ds_product(const DlSizes& s, i32 phase)
{
    switch (phase)
    {
    case DL_QKV: return {s.d, 3 * s.inner, true, false};
    case DL_O: case DL_CROSS_O: return {s.inner, s.d, false, false};
    case DL_CROSS_Q: return {s.d, s.inner, true, false};
    case DL_GATED: return {s.d, s.dff, true, true};
    default: return {s.dff, s.d, false, false}; // DL_WO
    }
}

PXL_DEVICE bool ds_is_attention(i32 phase) { return phase == DL_SELF || phase == DL_CROSS; }

// Warps per column: the fewest (1, 2, 4, 8) whose shares of a column's vectors (twice that when gated) fit DS_WARP_BYTES.
PXL_DEVICE i32 ds_split(const DsProduct& p, i32 es)
{
    const i32 nvec = p.k * es / 16, per_vector = p.gated ? 2 : 1;
    i32 split = 1;
    while (split < DL_WARPS && (nvec + split - 1) / split * per_vector * 16 > DS_WARP_BYTES) split *= 2;
    return split;
}

PXL_DEVICE i32 ds_phase_tiles(const DlSizes& s, i32 phase, i32 es)
{
    if (ds_is_attention(phase)) return s.rows * s.heads;
    const DsProduct p = ds_product(s, phase);
    const i32 columns = DL_WARPS / ds_split(p, es);
    return (p.n + columns - 1) / columns;
}

// A layer's tickets by phase, worked out once per block (thread 0; the caller syncs): phase p holds tickets
// [first[p], first[p + 1]) of each layer and splits its columns over split[p] warps (1 for attention). Locating a
// ticket from the sizes took a loop of divisions per phase, twice a tile, many times the tile's own arithmetic.
struct DsSchedule
{
    i32 first[DL_PHASES + 1];
    i32 split[DL_PHASES];
};

PXL_DEVICE void ds_schedule(const DlSizes& s, i32 es, DsSchedule& schedule)
{
    if (threadIdx.x != 0) return;
    schedule.first[0] = 0;
    for (i32 p = 0; p < DL_PHASES; p++)
    {
        schedule.split[p] = ds_is_attention(p) ? 1 : ds_split(ds_product(s, p), es);
        schedule.first[p + 1] = schedule.first[p] + ds_phase_tiles(s, p, es);
    }
}

// A ticket as (layer, phase, tile within the phase); phase DL_PHASES past the end (tickets ≥ total).
PXL_DEVICE void ds_locate(const DsSchedule& schedule, i32 total, i32 ticket, i32& layer, i32& phase, i32& tile)
{
    const i32 per_layer = schedule.first[DL_PHASES];
    layer = ticket / per_layer;
    tile = ticket - layer * per_layer;
    phase = 0;
    if (ticket >= total)
    {
        phase = DL_PHASES;
        return;
    }
    while (phase + 1 < DL_PHASES && tile >= schedule.first[phase + 1]) phase++;
    tile -= schedule.first[phase];
}

// This warp's part of a product tile: its column, and the vector range [begin, end) of that column it multiplies.
struct DsShare
{
    i32 col, begin, end, seg, split;
    bool active;
};

PXL_DEVICE DsShare ds_share(const DsProduct& p, i32 split, i32 tile, i32 es)
{
    DsShare w;
    const i32 warp = threadIdx.x >> 5, nvec = p.k * es / 16, shift = __ffs(split) - 1; // split is 1, 2, 4 or 8
    w.split = split;
    w.seg = warp & (split - 1);
    w.col = tile * (DL_WARPS >> shift) + (warp >> shift);
    w.active = w.col < p.n;
    const i32 length = (nvec + split - 1) >> shift;
    w.begin = min(nvec, w.seg * length);
    w.end = min(nvec, w.begin + length);
    return w;
}

// The weight column (and the gated pair's second) that `col` of `phase` of `layer` reads.
template <typename T>
PXL_DEVICE const T* ds_column(const DlSizes& s, const DsLayerTable& t, i32 layer, i32 phase, i32 col, bool up)
{
    switch (phase)
    {
    case DL_QKV:
    {
        const i32 which = col / s.inner;
        return ds_tensor<const T>(t, layer, DS_WQ + which) + (i64)(col - which * s.inner) * s.d;
    }
    case DL_O: return ds_tensor<const T>(t, layer, DS_WO) + (i64)col * s.inner;
    case DL_CROSS_Q: return ds_tensor<const T>(t, layer, DS_CROSS_WQ) + (i64)col * s.d;
    case DL_CROSS_O: return ds_tensor<const T>(t, layer, DS_CROSS_WO) + (i64)col * s.inner;
    case DL_GATED: return ds_tensor<const T>(t, layer, up ? DS_WI1 : DS_WI0) + (i64)col * s.d;
    default: return ds_tensor<const T>(t, layer, DS_WO_FF) + (i64)col * s.dff;
    }
}

// Dynamic shared memory: the stages, the input rows (R × the widest input), the norm weight (d).
PXL_DEVICE i32 ds_rows_offset() { return DS_STAGES * DS_STAGE_BYTES; }
PXL_DEVICE i32 ds_norm_offset(const DlSizes& s, i32 es, i32 rows)
{
    return ds_rows_offset() + rows * max(s.d, max(s.inner, s.dff)) * es;
}

// Copies this thread's vectors of `ticket`'s weights into `stage` (none for attention tiles or past the end), and
// commits them as one cp.async group, empty or not, so that group i is always the i-th ticket a block took.
template <typename T>
PXL_DEVICE void ds_request(const DlSizes& s, const DsSchedule& schedule, i32 total, i32 ticket, u8* stage, const DsLayerTable& t)
{
    i32 layer, phase, tile;
    ds_locate(schedule, total, ticket, layer, phase, tile);
    if (phase < DL_PHASES && !ds_is_attention(phase))
    {
        const DsProduct p = ds_product(s, phase);
        const DsShare w = ds_share(p, schedule.split[phase], tile, sizeof(T));
        if (w.active)
        {
            pxl_vec16* mine = reinterpret_cast<pxl_vec16*>(stage + (threadIdx.x >> 5) * DS_WARP_BYTES);
            const auto* wv_ = reinterpret_cast<const pxl_vec16*>(ds_column<T>(s, t, layer, phase, w.col, false));
            const auto* uv_ = reinterpret_cast<const pxl_vec16*>(ds_column<T>(s, t, layer, phase, w.col, true));
            const i32 length = w.end - w.begin;
            // Thread 0 signals every tile (dl_signal's fence) and so copies nothing: were a fence to wait for its own
            // copies in flight, every hand-off would wait for the next tiles (fence_probe.py measures whether it does).
            // Lane 1 of warp 0 copies lane 0's vectors too; the loop after the wait syncs the warp before reading them.
            const i32 lane = threadIdx.x & 31;
            for (i32 i = w.begin + lane; threadIdx.x != 0 && i < w.end; i += 32)
            {
                pxl_copy_async16(mine + (i - w.begin), wv_ + i);
                if (p.gated) pxl_copy_async16(mine + length + (i - w.begin), uv_ + i);
                if (threadIdx.x == 1)
                {
                    pxl_copy_async16(mine + (i - 1 - w.begin), wv_ + i - 1);
                    if (p.gated) pxl_copy_async16(mine + length + (i - 1 - w.begin), uv_ + i - 1);
                }
            }
            if (threadIdx.x == 1 && (w.end - w.begin) % 32 == 1) // lane 0's last vector, which lane 1 has no twin for
            {
                pxl_copy_async16(mine + (w.end - 1 - w.begin), wv_ + w.end - 1);
                if (p.gated) pxl_copy_async16(mine + length + (w.end - 1 - w.begin), uv_ + w.end - 1);
            }
        }
    }
    pxl_copy_async_commit();
}

// One product tile: every warp multiplies its share (weights in `stage`, rows in xs, the norm weight in gs) and the
// first warp of each column writes it, as decoder_layer.cu's dl_column would: × inv_rms when NORM, gelu_tanh(gate) ·
// up when GATED, + the residual, rounded to T. out/residual: the column's row-0 element, rows row_stride apart.
template <typename T, int R, bool NORM, bool GATED>
PXL_DEVICE void ds_multiply(const DsProduct& p, const DsShare& w, const u8* stage, const pxl_vec16* xs,
                            const pxl_vec16* gs, const float* inv_rms, float (*partial)[4][2], i32 rows, const T* residual,
                            T* out, i64 row_stride, bool write)
{
    constexpr int E = 16 / sizeof(T);
    const i32 lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nvec = p.k / E;
    const pxl_vec16* wsm = reinterpret_cast<const pxl_vec16*>(stage + warp * DS_WARP_BYTES);
    const pxl_vec16* usm = wsm + (w.end - w.begin);
    float acc[R], gate_up[R];
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = gate_up[r] = 0.0f;
    if (w.active)
#pragma unroll 2
        for (i32 i = w.begin + lane; i < w.end; i += 32)
        {
            float wf[E], uf[E];
            unpack(wsm[i - w.begin], wf, T());
            if (GATED) unpack(usm[i - w.begin], uf, T());
            if (NORM)
            {
                float gf[E];
                unpack(gs[i], gf, T());
#pragma unroll
                for (int e = 0; e < E; e++) { wf[e] *= gf[e]; if (GATED) uf[e] *= gf[e]; }
            }
            dl_accumulate<T, R, GATED>(wf, uf, xs, nvec, i, rows, acc, gate_up);
        }
#pragma unroll
    for (int r = 0; r < R; r++)
    {
        acc[r] = warp_sum(acc[r]);
        if (GATED) gate_up[r] = warp_sum(gate_up[r]);
    }
    if (w.split > 1) // block-uniform
    {
        if (lane == 0)
#pragma unroll
            for (int r = 0; r < R; r++) { partial[warp][r][0] = acc[r]; partial[warp][r][1] = gate_up[r]; }
        __syncthreads();
        if (w.seg == 0)
#pragma unroll
            for (int r = 0; r < R; r++)
            {
                float a = 0.0f, g = 0.0f;
                for (i32 j = 0; j < w.split; j++) { a += partial[warp + j][r][0]; g += partial[warp + j][r][1]; }
                acc[r] = a;
                gate_up[r] = g;
            }
    }
    if (!write || w.seg != 0 || lane != 0) return;
#pragma unroll
    for (int r = 0; r < R; r++)
    {
        if (r >= rows) continue;
        out[r * row_stride] = dl_column_value<T, NORM, GATED>(acc[r], gate_up[r], NORM ? inv_rms[r] : 1.0f,
                                                            residual ? residual + r * row_stride : nullptr);
    }
}

// The last of `blocks` blocks out leaves the stack's 2 + DL_PHASES·layers counters at zero for the next launch.
PXL_DEVICE void ds_finish(i32* counters, i32 layers, i32 blocks)
{
    if (threadIdx.x != 0) return;
    const i32 count = 2 + DL_PHASES * layers;
    __threadfence();
    if (atomicAdd(counters + count - 1, 1) == blocks - 1)
    {
        for (i32 i = 0; i < count; i++) counters[i] = 0;
        __threadfence();
    }
}

template <typename T, int R>
PXL_DEVICE void decoder_layer_stream(const T* x, const i32* position, const T* bias, const u8* self_mask, const u8* cross_mask,
                                     const DsLayerTable& t, i32 layers, T* y, T* work, i32* counters, DlSizes s, float eps,
                                     float mask_bias, i32* error)
{
    extern __shared__ __align__(16) u8 ds_smem[];
    __shared__ float inv_rms[4];
    __shared__ float partial[DL_WARPS][4][2];
    __shared__ i32 taken[2]; // by iteration parity: thread 0 writes one while the block may still read the other
    __shared__ DsSchedule schedule;
    constexpr i32 es = (i32)sizeof(T);
    pxl_vec16* xs = reinterpret_cast<pxl_vec16*>(ds_smem + ds_rows_offset());
    pxl_vec16* gs = reinterpret_cast<pxl_vec16*>(ds_smem + ds_norm_offset(s, es, R));
    const DlWork<T> work_rows = dl_work(work, s);
    i32* done = counters + 1; // per (layer, phase)

    // The first DS_STAGES tickets at once; then, per tile, the next one is taken while the tile runs.
    if (threadIdx.x == 0) taken[0] = atomicAdd(counters, DS_STAGES);
    ds_schedule(s, es, schedule);
    __syncthreads();
    const i32 total = schedule.first[DL_PHASES] * layers;
    i32 tickets[DS_STAGES];
#pragma unroll
    for (int i = 0; i < DS_STAGES; i++)
    {
        tickets[i] = taken[0] + i;
        ds_request<T>(s, schedule, total, tickets[i], ds_smem + i * DS_STAGE_BYTES, t);
    }
    bool more = taken[0] + DS_STAGES < total;
    // (layer, phase) as layer·DL_PHASES + phase: those below `ready` are known complete; `staged`: whose rows xs holds.
    i32 ready = 0, staged = -1, slot = 0, parity = 1;

    while (tickets[0] < total)
    {
        i32 next = total;
        if (threadIdx.x == 0 && more) next = atomicAdd(counters, 1);
        i32 layer, phase, tile;
        ds_locate(schedule, total, tickets[0], layer, phase, tile);
        const i32 step = layer * DL_PHASES + phase;
        if (step > ready)
        {
            const i32 before = (step - 1) % DL_PHASES;
            dl_wait(done + step - 1, schedule.first[before + 1] - schedule.first[before], error);
            ready = step;
        }
        const T* in = layer == 0 ? x : y;
        T* key_cache = ds_tensor<T>(t, layer, DS_KEY_CACHE);
        T* value_cache = ds_tensor<T>(t, layer, DS_VALUE_CACHE);
        u8* stage = ds_smem + slot * DS_STAGE_BYTES;
        if (phase == DL_SELF)
            dl_attention<T>(tile, s, work_rows.q, key_cache, value_cache, bias, self_mask, s.lmax, mask_bias, work_rows.o,
                            reinterpret_cast<float*>(stage));
        else if (phase == DL_CROSS)
            dl_attention<T>(tile, s, work_rows.cq, ds_tensor<const T>(t, layer, DS_CROSS_KEYS),
                            ds_tensor<const T>(t, layer, DS_CROSS_VALUES), nullptr, cross_mask, s.lm, mask_bias, work_rows.co,
                            reinterpret_cast<float*>(stage));
        else
        {
            const DsProduct p = ds_product(s, phase);
            if (staged != step)
            {
                const T* norm = ds_tensor<const T>(t, layer, phase == DL_QKV ? DS_SELF_NORM : phase == DL_CROSS_Q ? DS_CROSS_NORM : DS_FF_NORM);
                if (p.norm)
                    for (i32 i = threadIdx.x; i < s.d * es / 16; i += DL_THREADS) gs[i] = reinterpret_cast<const pxl_vec16*>(norm)[i];
                const T* src = phase == DL_QKV ? in : phase == DL_O ? work_rows.o : phase == DL_CROSS_Q ? work_rows.x1
                             : phase == DL_CROSS_O ? work_rows.co : phase == DL_GATED ? work_rows.x2 : work_rows.h;
                if (p.norm) dl_stage_rows<T, true>(src, s.rows, p.k, eps, xs, inv_rms);
                else dl_stage_rows<T, false>(src, s.rows, p.k, eps, xs, inv_rms);
                staged = step;
            }
            pxl_copy_async_wait_group<DS_STAGES - 1>();
            __syncwarp(); // lane 0's vectors were copied by lane 1
            const DsShare w = ds_share(p, schedule.split[phase], tile, es);
            const i32 col = w.active ? w.col : 0;
            const T* residual = nullptr;
            T* out;
            i64 stride = s.d;
            bool write = w.active;
            switch (phase)
            {
            case DL_QKV:
            {
                const i32 which = col / s.inner, c = col - which * s.inner, at = *position;
                const bool fits = at >= 0 && at < s.lmax;
                if (!fits && tickets[0] == 0 && threadIdx.x == 0) pxl_fail(error, PXL_ERR_POSITION);
                out = which == 0 ? work_rows.q + c : (which == 1 ? key_cache : value_cache) + (i64)(fits ? at : 0) * s.inner + c;
                stride = which == 0 ? (i64)s.inner : (i64)s.lmax * s.inner;
                write = write && (which == 0 || fits);
                break;
            }
            case DL_O: out = work_rows.x1 + col; residual = in + col; break;
            case DL_CROSS_Q: out = work_rows.cq + col; stride = s.inner; break;
            case DL_CROSS_O: out = work_rows.x2 + col; residual = work_rows.x1 + col; break;
            case DL_GATED: out = work_rows.h + col; stride = s.dff; break;
            default: out = y + col; residual = work_rows.x2 + col; break;
            }
            if (p.gated)
                ds_multiply<T, R, true, true>(p, w, stage, xs, gs, inv_rms, partial, s.rows, residual, out, stride, write);
            else if (p.norm)
                ds_multiply<T, R, true, false>(p, w, stage, xs, gs, inv_rms, partial, s.rows, residual, out, stride, write);
            else
                ds_multiply<T, R, false, false>(p, w, stage, xs, gs, inv_rms, partial, s.rows, residual, out, stride, write);
        }
        // The ticket taken above goes out with the hand-off's barrier: taken[parity] was last read before the previous
        // iteration's barrier, so no thread still needs it. Then the stage just used is refilled with that ticket.
        if (threadIdx.x == 0) taken[parity] = next;
        dl_signal(done + step);
        const i32 fresh = taken[parity];
        parity ^= 1;
        more = more && fresh + 1 < total;
        ds_request<T>(s, schedule, total, fresh, stage, t);
#pragma unroll
        for (int i = 0; i + 1 < DS_STAGES; i++) tickets[i] = tickets[i + 1];
        tickets[DS_STAGES - 1] = fresh;
        slot = slot + 1 == DS_STAGES ? 0 : slot + 1;
    }
    pxl_copy_async_wait_all();
    ds_finish(counters, layers, gridDim.x);
}

// decoder_layer_stream_<t>_r<R>: `layers` (1 … DS_MAX_LAYERS) layers whose own tensors are in `table`; at most 128
// registers, so that two blocks fit per SM wherever two blocks' shared memory does.
#define PXL_DECODER_LAYER_STREAM(suffix, T, R)                                                                      \
    extern "C" __global__ void __launch_bounds__(DL_THREADS, 2) decoder_layer_stream_##suffix##_r##R(                   \
        const T* x, const i32* position, const T* bias, const u8* self_mask, const u8* cross_mask, DsLayerTable table, \
        i32 layers, T* y, T* work, i32* counters, i32 rows, i32 d, i32 inner, i32 dff, i32 heads, i32 lmax, i32 lm,    \
        float eps, float mask_bias, i32* error)                                                                     \
    {                                                                                                               \
        pxl_dependent_launch();                                                                                     \
        decoder_layer_stream<T, R>(x, position, bias, self_mask, cross_mask, table, layers, y, work, counters,       \
                                   DlSizes{rows, d, inner, dff, heads, lmax, lm}, eps, mask_bias, error);           \
    }

#define PXL_DECODER_LAYER_STREAM_TYPE(suffix, T)                                                                    \
    PXL_DECODER_LAYER_STREAM(suffix, T, 1)                                                                          \
    PXL_DECODER_LAYER_STREAM(suffix, T, 2)                                                                          \
    PXL_DECODER_LAYER_STREAM(suffix, T, 4)

PXL_DECODER_LAYER_STREAM_TYPE(f32, float)
PXL_DECODER_LAYER_STREAM_TYPE(bf16, bf16)
PXL_DECODER_LAYER_STREAM_TYPE(f16, half)
