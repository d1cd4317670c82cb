// ConcatOp, one launch per input: x viewed as (outer, run) is copied to y viewed as (outer, y_run) at column
// `offset`, where run = dim_i·inner, y_run = total·inner and offset = (dims of the inputs before it)·inner.
// Data movement only: concat_b1/b2/b4/b8, for runs too short for copy_rows.cu. 32-bit index math when y has fewer than
// 2^31 elements (the host passes wide = 1 otherwise). Launch: any 1-D grid over x's elements.
#include "prelude.cuh"

template <typename I, typename E>
PXL_DEVICE void concat_loop(const E* __restrict__ x, E* __restrict__ y, I n, I run, I y_run, I offset)
{
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x)
        y[i / run * y_run + offset + i % run] = x[i];
}

#define PXL_CONCAT(suffix, E)                                                                                       \
    extern "C" __global__ void concat_##suffix(const E* __restrict__ x, E* __restrict__ y, i64 n, i64 run, i64 y_run, \
                                               i64 offset, i32 wide)                                                \
    { pxl_dependent_launch();                                                                                       \
        if (!wide) concat_loop<u32, E>(x, y, (u32)n, (u32)run, (u32)y_run, (u32)offset);                             \
        else concat_loop<i64, E>(x, y, n, run, y_run, offset);                                                      \
    }

PXL_CONCAT(b1, u8)
PXL_CONCAT(b2, u16)
PXL_CONCAT(b4, u32)
PXL_CONCAT(b8, u64)
