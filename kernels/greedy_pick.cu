// GreedyPickOp / GreedyScoreOp: the greedy decoding choice per row of logits (R, V), next to them, so a decode step
// copies a few bytes per row back instead of a vocabulary. Semantics of GreedyChoice.Pick (the CPU reference): the
// previous token's logit capped at `cap`; a row whose previous token is EOS is forced (EOS, log-prob 0, margin −1);
// otherwise the first index of the largest log-prob (x − max) − log Σ exp(x − max), that log-prob, and its lead over
// the runner-up (0 on a tie). A previous token outside [0, V) stores PXL_ERR_INDEX and leaves the row unwritten.
// Launch: grid = rows, block = (32·k, 1, 1) with k in 1..32.
#include "prelude.cuh"

struct GreedyChoice { i32 token; float log_prob; float margin; };

template <typename T>
PXL_DEVICE float capped(const T* x, i32 c, i32 previous, float cap)
{
    const float v = to_float(x[c]);
    return c == previous ? fminf(v, cap) : v;
}

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
    float max = pxl_neg_inf();
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x) max = fmaxf(max, capped(x, c, previous, cap));
    max = block_max(max, scratch);
    float sum = 0.0f;
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x) sum += expf(capped(x, c, previous, cap) - max);
    const float log = logf(block_sum(sum, scratch));

    float best = pxl_neg_inf(), second = pxl_neg_inf();
    i32 at = 0x7fffffff;
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x)
    {
        const float log_prob = (capped(x, c, previous, cap) - max) - log;
        if (log_prob > best) { second = best; best = log_prob; at = c; }
        else if (log_prob > second) second = log_prob;
    }
    for (int offset = 16; offset > 0; offset >>= 1)
        merge_top2(best, at, second, __shfl_xor_sync(PXL_FULL_MASK, best, offset), __shfl_xor_sync(PXL_FULL_MASK, at, offset),
                   __shfl_xor_sync(PXL_FULL_MASK, second, offset));
    const int warps = blockDim.x >> 5, lane = threadIdx.x & 31;
    if (warps > 1)
    {
        if (lane == 0) { bests[threadIdx.x >> 5] = best; ats[threadIdx.x >> 5] = at; seconds[threadIdx.x >> 5] = second; }
        __syncthreads();
        best = lane < warps ? bests[lane] : pxl_neg_inf();
        at = lane < warps ? ats[lane] : 0x7fffffff;
        second = lane < warps ? seconds[lane] : pxl_neg_inf();
        for (int offset = 16; offset > 0; offset >>= 1)
            merge_top2(best, at, second, __shfl_xor_sync(PXL_FULL_MASK, best, offset), __shfl_xor_sync(PXL_FULL_MASK, at, offset),
                       __shfl_xor_sync(PXL_FULL_MASK, second, offset));
    }
    out = GreedyChoice{ at == 0x7fffffff ? 0 : at, best, best - second };
    return true;
}

template <typename T>
PXL_DEVICE void greedy_pick_row(const T* x, const i32* previous, i32* tokens, i32 cols, i32 eos, float cap, i32* error)
{
    GreedyChoice choice;
    const i64 row = blockIdx.x;
    if (greedy_row<T>(x + row * cols, previous[row], cols, eos, cap, error, choice) && threadIdx.x == 0) tokens[row] = choice.token;
}

template <typename T>
PXL_DEVICE void greedy_score_row(const T* x, const i32* previous, T* scores, i32 cols, i32 eos, float cap, i32* error)
{
    GreedyChoice choice;
    const i64 row = blockIdx.x;
    if (greedy_row<T>(x + row * cols, previous[row], cols, eos, cap, error, choice) && threadIdx.x == 0)
    {
        scores[2 * row] = from_float<T>(choice.log_prob);
        scores[2 * row + 1] = from_float<T>(choice.margin);
    }
}

#define PXL_GREEDY(suffix, T)                                                                                              \
    extern "C" __global__ void __launch_bounds__(1024)                                                                     \
    greedy_pick_##suffix(const T* x, const i32* previous, i32* tokens, i32 cols, i32 eos, float cap, i32* error)          \
    { pxl_dependent_launch();                                                                                              \
        greedy_pick_row<T>(x, previous, tokens, cols, eos, cap, error);                                                    \
    }                                                                                                                      \
    extern "C" __global__ void __launch_bounds__(1024)                                                                     \
    greedy_score_##suffix(const T* x, const i32* previous, T* scores, i32 cols, i32 eos, float cap, i32* error)           \
    { pxl_dependent_launch();                                                                                              \
        greedy_score_row<T>(x, previous, scores, cols, eos, cap, error);                                                   \
    }

PXL_GREEDY(f32, float)
PXL_GREEDY(bf16, bf16)
PXL_GREEDY(f16, half)
