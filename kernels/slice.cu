// SliceOp: x viewed as (outer, dim, inner) → y (outer, count, inner) with y[o, k, j] = x[o, start + k·step, j].
// Data movement only: kernels per element size, slice_b1/b2/b4/b8, for runs too short for copy_rows.cu; 32-bit index
// math when n < 2^31 (offsets into x can exceed n, so x's size must fit too: the host passes wide = 1 otherwise).
// Launch: any 1-D grid over y's elements.
#include "prelude.cuh"

template <typename I, typename E>
PXL_DEVICE void slice_loop(const E* __restrict__ x, E* __restrict__ y, I n, I count, I inner, I dim, I start, I step)
{
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x)
    {
        const I j = i % inner, rest = i / inner, k = rest % count, o = rest / count;
        y[i] = x[(o * dim + start + k * step) * inner + j];
    }
}

#define PXL_SLICE(suffix, E)                                                                                        \
    extern "C" __global__ void slice_##suffix(const E* __restrict__ x, E* __restrict__ y, i64 n, i32 count, i64 inner, \
                                              i32 dim, i32 start, i32 step, i32 wide)                               \
    { pxl_dependent_launch();                                                                                       \
        if (!wide) slice_loop<u32, E>(x, y, (u32)n, (u32)count, (u32)inner, (u32)dim, (u32)start, (u32)step);        \
        else slice_loop<i64, E>(x, y, n, count, inner, dim, start, step);                                           \
    }

PXL_SLICE(b1, u8)
PXL_SLICE(b2, u16)
PXL_SLICE(b4, u32)
PXL_SLICE(b8, u64)
