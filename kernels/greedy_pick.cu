// GreedyPickOp: the greedy decoding choice per row of logits (R, V), next to them, so a decode step copies a few bytes
// per row back instead of a vocabulary: the token (I32) and its (log-prob, margin) in the scores, one launch.
// Semantics of GreedyChoice.Pick (the CPU reference): the previous token's logit capped at `cap`; a row whose previous
// token is EOS is forced (EOS, log-prob 0, margin −1);
// otherwise the first index of the largest log-prob (x − max) − log Σ exp(x − max), that log-prob, and its lead over
// the runner-up (0 on a tie). A previous token outside [0, V) stores PXL_ERR_INDEX and leaves the row unwritten.
// Launch: grid = rows, block = (32·k, 1, 1) with k in 1..16.
#include "prelude.cuh"

// Threads per block, and 16-byte loads in flight per thread.
#define GREEDY_THREADS 512
#define GREEDY_UNROLL 8

struct GreedyChoice { i32 token; float log_prob; float margin; };

// Keeps (best, at, second) as the host's ascending loop would: at = the first index of the best value, second = the
// largest value among the others (equal to best on a tie).
PXL_DEVICE void merge_top2(float& best, i32& at, float& second, float other_best, i32 other_at, float other_second)
{
    if (other_best > best || (other_best == best && other_at < at))
    {
        second = fmaxf(best, other_second);
        best = other_best;
        at = other_at;
    }
    else second = fmaxf(second, other_best);
}

// merge_top2 across the warp: every lane ends up holding the warp's (best, at, second).
PXL_DEVICE void warp_merge_top2(float& best, i32& at, float& second)
{
    for (int offset = 16; offset > 0; offset >>= 1)
        merge_top2(best, at, second, __shfl_xor_sync(PXL_FULL_MASK, best, offset), __shfl_xor_sync(PXL_FULL_MASK, at, offset),
                   __shfl_xor_sync(PXL_FULL_MASK, second, offset));
}

// Every thread of the block calls it; returns false (after reporting) when the previous token is out of range.
template <typename T>
PXL_DEVICE bool greedy_row(const T* __restrict__ x, i32 previous, i32 cols, i32 eos, float cap, i32* error, GreedyChoice& out)
{
    __shared__ float scratch[32];
    __shared__ float bests[32], seconds[32];
    __shared__ i32 ats[32];
    if (previous < 0 || previous >= cols)
    {
        if (threadIdx.x == 0) pxl_fail(error, PXL_ERR_INDEX);
        return false;
    }
    if (previous == eos)
    {
        out = GreedyChoice{ eos, 0.0f, -1.0f };
        return true;
    }
    // One pass: a running max and Σ exp (rescaled when the max moves) and the top two capped values — the log-prob is
    // monotonic in the value, so its top two are the values' top two. 16-byte loads, GREEDY_UNROLL in flight.
    float best = pxl_neg_inf(), second = pxl_neg_inf(), max = pxl_neg_inf(), sum = 0.0f;
    i32 at = 0x7fffffff;
    auto visit = [&](i32 c, float value) {
        value = c == previous ? fminf(value, cap) : value;
        if (value > max) { sum = sum * expf(max - value) + 1.0f; max = value; }
        else if (value > pxl_neg_inf()) sum += expf(value - max); // −∞ adds nothing (and −∞ − −∞ would be NaN)
        if (value > best) { second = best; best = value; at = c; }
        else if (value > second) second = value;
    };
    constexpr int E = 16 / sizeof(T);
    const bool vector = ((u64)x & 15) == 0;
    const i32 vectors = vector ? cols / E : 0;
    const pxl_vec16* xv = reinterpret_cast<const pxl_vec16*>(x);
    for (i32 first = threadIdx.x; first < vectors; first += GREEDY_UNROLL * blockDim.x)
    {
        pxl_vec16 loaded[GREEDY_UNROLL]; // every load issued before the first visit
#pragma unroll
        for (int u = 0; u < GREEDY_UNROLL; u++)
        {
            const i32 i = first + u * blockDim.x;
            if (i < vectors) loaded[u] = xv[i];
        }
#pragma unroll
        for (int u = 0; u < GREEDY_UNROLL; u++)
        {
            const i32 i = first + u * blockDim.x;
            if (i >= vectors) break;
            float f[E];
            unpack(loaded[u], f, T());
#pragma unroll
            for (int e = 0; e < E; e++) visit(i * E + e, f[e]);
        }
    }
    for (i32 c = vectors * E + threadIdx.x; c < cols; c += blockDim.x) visit(c, to_float(x[c]));

    const float row_max = block_max(max, scratch);
    const float log = logf(block_sum(max == pxl_neg_inf() && row_max == pxl_neg_inf() ? sum : sum * expf(max - row_max), scratch));
    warp_merge_top2(best, at, second);
    const int warps = blockDim.x >> 5, lane = threadIdx.x & 31;
    if (warps > 1)
    {
        if (lane == 0) { bests[threadIdx.x >> 5] = best; ats[threadIdx.x >> 5] = at; seconds[threadIdx.x >> 5] = second; }
        __syncthreads();
        best = lane < warps ? bests[lane] : pxl_neg_inf();
        at = lane < warps ? ats[lane] : 0x7fffffff;
        second = lane < warps ? seconds[lane] : pxl_neg_inf();
        warp_merge_top2(best, at, second);
    }
    const float log_best = (best - row_max) - log, log_second = (second - row_max) - log;
    out = GreedyChoice{ at == 0x7fffffff ? 0 : at, log_best, log_best - log_second };
    return true;
}

template <typename T>
PXL_DEVICE void greedy_pick_row(const T* x, const i32* previous, i32* tokens, T* scores, i32 cols, i32 eos, float cap, i32* error)
{
    GreedyChoice choice;
    const i64 row = blockIdx.x;
    if (greedy_row<T>(x + row * cols, previous[row], cols, eos, cap, error, choice) && threadIdx.x == 0)
    {
        tokens[row] = choice.token;
        scores[2 * row] = from_float<T>(choice.log_prob);
        scores[2 * row + 1] = from_float<T>(choice.margin);
    }
}

#define PXL_GREEDY(suffix, T)                                                                                              \
    extern "C" __global__ void __launch_bounds__(GREEDY_THREADS)                                                           \
    greedy_pick_##suffix(const T* x, const i32* previous, i32* tokens, T* scores, i32 cols, i32 eos, float cap, i32* error) \
    { pxl_dependent_launch();                                                                                              \
        greedy_pick_row<T>(x, previous, tokens, scores, cols, eos, cap, error);                                            \
    }

PXL_GREEDY(f32, float)
PXL_GREEDY(bf16, bf16)
PXL_GREEDY(f16, half)
