// ConcatOp, one launch per input: x viewed as (outer, run) is copied to y viewed as (outer, y_run) at column
// `offset`, where run = dim_i·inner, y_run = total·inner and offset = (dims of the inputs before it)·inner.
// Data movement only: concat_b1/b2/b4/b8. Launch: any 1-D grid over x's elements.
#include "prelude.cuh"

#define PXL_CONCAT(suffix, E)                                                                                       \
    extern "C" __global__ void concat_##suffix(const E* __restrict__ x, E* __restrict__ y, i64 n, i64 run, i64 y_run, i64 offset) \
    {                                                                                                               \
        PXL_GRID_STRIDE_LOOP(i, n) y[i / run * y_run + offset + i % run] = x[i];                                    \
    }

PXL_CONCAT(b1, u8)
PXL_CONCAT(b2, u16)
PXL_CONCAT(b4, u32)
PXL_CONCAT(b8, u64)
