// BeamCandidatesOp: per batch element, the `keep` best continuations of its `beams` rows of logits (rows = B·beams, V):
// the flat index beam·V + token and the value ((x − max) − log Σ exp(x − max)) + live[row], best first, lower flat index
// first on ties, NaN above every number (pxl_better). The live log-probs and the values are float32 bit patterns in I32
// buffers, so a 16-bit float storage never rounds a running beam score. The CPU reference is BeamCandidateChoice.Scores
// plus a selection heap; here Σ exp is summed in another order, so a value may differ from it in the last bits.
// Three launches, each parallel over the vocabulary (one block per row would read T5's 32128 logits alone):
//   beam_stats:  grid (chunks, rows): a chunk's max (NaN kept) and Σ exp(x − chunk max) → stats (rows, chunks, 2)
//   beam_select: grid (chunks, rows): the row's max and log Σ from its chunks' stats, the chunk's values in shared
//                memory, its `keep` best (fewer when the chunk is shorter: the rest (0, −1)) → parts (rows·chunks, keep)
//   beam_merge:  grid (B): the `keep` best of the element's beams·chunks·keep parts → indices y and value bits.
// A chunk's `keep` best hold every candidate of the element's `keep` best that lies in the chunk, so the merge is exact.
// Launch: block = BEAM_THREADS for all three; chunks = ⌈V / BEAM_CHUNK⌉.
#include "prelude.cuh"

#define BEAM_THREADS 256
#define BEAM_CHUNK 2048
#define BEAM_PER_THREAD (BEAM_CHUNK / BEAM_THREADS)

// The host's row max (TensorPrimitives.Max) is NaN when the row holds one; fmaxf would drop it.
PXL_DEVICE float nan_max(float a, float b) { return (a != a || b != b) ? pxl_nan() : fmaxf(a, b); }

PXL_DEVICE float block_nan_max(float v, float* scratch)
{
    for (int offset = 16; offset > 0; offset >>= 1) v = nan_max(v, __shfl_xor_sync(PXL_FULL_MASK, v, offset));
    const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    if (lane == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : pxl_neg_inf();
    for (int offset = 16; offset > 0; offset >>= 1) v = nan_max(v, __shfl_xor_sync(PXL_FULL_MASK, v, offset));
    __syncthreads();
    return v;
}

template <typename T>
PXL_DEVICE void beam_stats(const T* __restrict__ x, float* __restrict__ stats, i32 cols)
{
    __shared__ float scratch[32];
    const i32 begin = blockIdx.x * BEAM_CHUNK, end = begin + min(cols - begin, BEAM_CHUNK); // no overflow near INT_MAX
    x += (i64)blockIdx.y * cols;
    float v[BEAM_PER_THREAD];
    float m = pxl_neg_inf();
#pragma unroll
    for (int u = 0; u < BEAM_PER_THREAD; u++)
    {
        const i32 c = begin + threadIdx.x + u * BEAM_THREADS;
        v[u] = c < end ? to_float(x[c]) : pxl_neg_inf();
        m = nan_max(m, v[u]);
    }
    m = block_nan_max(m, scratch);
    float s = 0.0f;
#pragma unroll
    for (int u = 0; u < BEAM_PER_THREAD; u++)
        if (begin + threadIdx.x + u * BEAM_THREADS < end) s += expf(v[u] - m);
    s = block_sum(s, scratch);
    if (threadIdx.x == 0)
    {
        float* out = stats + 2 * ((i64)blockIdx.y * gridDim.x + blockIdx.x);
        out[0] = m;
        out[1] = s;
    }
}

// The row's max and log Σ exp(x − max) from its chunks' stats. A chunk whose max is −∞ adds nothing unless the whole
// row is −∞: then, as on the host, Σ exp(−∞ − (−∞)) is NaN.
PXL_DEVICE void row_normaliser(const float* stats, i32 chunks, float& max, float& log)
{
    float m = pxl_neg_inf();
    for (i32 c = 0; c < chunks; c++) m = nan_max(m, stats[2 * c]);
    float s = 0.0f;
    if (m == pxl_neg_inf()) s = pxl_nan();
    else
        for (i32 c = 0; c < chunks; c++)
            if (stats[2 * c] > pxl_neg_inf()) s += stats[2 * c + 1] * expf(stats[2 * c] - m);
    max = m;
    log = logf(s);
}

template <typename T>
PXL_DEVICE void beam_select(const T* __restrict__ x, const float* __restrict__ stats, const i32* __restrict__ live_bits,
                            float* __restrict__ part_values, i32* __restrict__ part_indices, i32 cols, i32 beams, i32 keep)
{
    __shared__ float values[BEAM_CHUNK];
    __shared__ float best_values[32];
    __shared__ i32 best_indices[32];
    const i32 row = blockIdx.y, chunks = gridDim.x, begin = blockIdx.x * BEAM_CHUNK, n = min(cols - begin, BEAM_CHUNK);
    float max, log;
    row_normaliser(stats + 2 * (i64)row * chunks, chunks, max, log);
    const float live = __int_as_float(live_bits[row]);
    x += (i64)row * cols + begin;
    // Rounded in the host's order: x − max, then − log, then + live (adds only: nothing to contract into an FMA).
    for (i32 i = threadIdx.x; i < n; i += BEAM_THREADS) values[i] = __fadd_rn(__fsub_rn(__fsub_rn(to_float(x[i]), max), log), live);
    __syncthreads();
    const i64 part = ((i64)row * chunks + blockIdx.x) * keep;
    const i32 base = (row % beams) * cols + begin;     // the flat index of values[0] (beams·V < 2^31, checked by the host)
    const i32 count = min(keep, n);
    float previous = 0.0f;
    i32 previous_at = -1;
    for (i32 t = 0; t < count; t++)
    {
        float best = 0.0f;
        i32 at = -1;
        for (i32 i = threadIdx.x; i < n; i += BEAM_THREADS) offer_below(values[i], i, previous, previous_at, best, at);
        block_best(best, at, best_values, best_indices);
        if (threadIdx.x == 0)
        {
            part_values[part + t] = best;
            part_indices[part + t] = base + at;
        }
        previous = best;
        previous_at = at;
    }
    for (i32 t = count + threadIdx.x; t < keep; t += BEAM_THREADS)
    {
        part_values[part + t] = 0.0f;
        part_indices[part + t] = -1;
    }
}

PXL_DEVICE void beam_merge_element(const float* __restrict__ part_values, const i32* __restrict__ part_indices, i32* __restrict__ y,
                                   i32* __restrict__ value_bits, i32 candidates, i32 keep)
{
    __shared__ float best_values[32];
    __shared__ i32 best_indices[32];
    part_values += (i64)blockIdx.x * candidates;
    part_indices += (i64)blockIdx.x * candidates;
    y += (i64)blockIdx.x * keep;
    value_bits += (i64)blockIdx.x * keep;
    float previous = 0.0f;
    i32 previous_at = -1;
    for (i32 t = 0; t < keep; t++)
    {
        float best = 0.0f;
        i32 at = -1;
        for (i32 c = threadIdx.x; c < candidates; c += BEAM_THREADS)
        {
            const i32 i = part_indices[c];
            if (i >= 0) offer_below(part_values[c], i, previous, previous_at, best, at);
        }
        block_best(best, at, best_values, best_indices);
        if (threadIdx.x == 0)
        {
            y[t] = at;
            value_bits[t] = __float_as_int(best);
        }
        previous = best;
        previous_at = at;
    }
}

#define PXL_BEAM(suffix, T) \
    extern "C" __global__ void __launch_bounds__(BEAM_THREADS) beam_stats_##suffix(const T* x, float* stats, i32 cols) \
    { pxl_dependent_launch(); beam_stats<T>(x, stats, cols); } \
    extern "C" __global__ void __launch_bounds__(BEAM_THREADS) beam_select_##suffix(const T* x, const float* stats, const i32* live_bits, \
        float* part_values, i32* part_indices, i32 cols, i32 beams, i32 keep) \
    { pxl_dependent_launch(); beam_select<T>(x, stats, live_bits, part_values, part_indices, cols, beams, keep); }

PXL_BEAM(f32, float)
PXL_BEAM(bf16, bf16)
PXL_BEAM(f16, half)

extern "C" __global__ void __launch_bounds__(BEAM_THREADS) beam_merge(const float* part_values, const i32* part_indices, i32* y,
    i32* value_bits, i32 candidates, i32 keep)
{
    pxl_dependent_launch();
    beam_merge_element(part_values, part_indices, y, value_bits, candidates, keep);
}
