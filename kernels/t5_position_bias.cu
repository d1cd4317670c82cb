// T5PositionBiasOp: y (1, H, Lq + Lk − 1)[h, d] = table (buckets, H)[bucket(d − (Lq − 1) − offset), h]: the bias of
// every query i and key j with j − i = d − (Lq − 1), which the attention kernels read in place (AttentionOp's bias by
// distance). offset is the op's query offset plus *position when a position is given (a decode step's, read on the
// device so that a captured step replays at every position). The bucket is computed here, not looked up: exact for
// distances below half of a direction's buckets, log-spaced up to max_distance, the last bucket beyond.
// Launch: any 1-D grid over H·(Lq + Lk − 1).
#include "prelude.cuh"

// Float32 as the reference computes it: log(n / exact) / log(max_distance / exact) · (buckets − exact), truncated. Each
// log is taken in double and rounded once, to the float a correctly rounded logf returns, so that distances whose ratio
// is a power of two (where the quotient is an integer in exact arithmetic) land where the CPU backend puts them.
PXL_DEVICE i32 t5_bucket(i64 relative, bool bidirectional, i32 buckets, i32 max_distance)
{
    i32 bucket = 0;
    i64 n;
    if (bidirectional)
    {
        buckets /= 2;
        if (relative > 0) bucket += buckets;
        n = relative < 0 ? -relative : relative;
    }
    else
        n = relative < 0 ? -relative : 0;
    const i32 exact = buckets / 2;
    if (n < exact) return bucket + (i32)n;
    const float near = (float)log((double)((float)n / (float)exact));
    const float far = (float)log((double)((float)max_distance / (float)exact));
    const float scaled = near / far * (float)(buckets - exact);
    const i32 log_bucket = exact + (i32)scaled;
    return bucket + (log_bucket < buckets - 1 ? log_bucket : buckets - 1);
}

#define PXL_T5_POSITION_BIAS(suffix, T)                                                                            \
    extern "C" __global__ void t5_position_bias_##suffix(const T* __restrict__ table, const i32* __restrict__ position, \
        T* __restrict__ y, i32 heads, i32 lq, i32 lk, i64 offset, i32 bidirectional, i32 buckets, i32 max_distance) \
    { pxl_dependent_launch();                                                                                      \
        const i64 distances = (i64)lq + lk - 1;                                                                    \
        const i64 start = offset + (position ? (i64)*position : 0);                                                \
        PXL_GRID_STRIDE_LOOP(e, distances * heads)                                                                 \
        {                                                                                                          \
            const i64 h = e / distances, relative = e % distances - (lq - 1) - start;                              \
            y[e] = table[(i64)t5_bucket(relative, bidirectional != 0, buckets, max_distance) * heads + h];         \
        }                                                                                                          \
    }

PXL_T5_POSITION_BIAS(f32, float)
PXL_T5_POSITION_BIAS(bf16, bf16)
PXL_T5_POSITION_BIAS(f16, half)
