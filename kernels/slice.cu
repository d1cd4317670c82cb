// SliceOp: x viewed as (outer, dim, inner) → y (outer, count, inner) with y[o, k, j] = x[o, start + k·step, j].
// Data movement only: kernels per element size, slice_b1/b2/b4/b8. Launch: any 1-D grid over y's elements.
#include "prelude.cuh"

#define PXL_SLICE(suffix, E)                                                                                        \
    extern "C" __global__ void slice_##suffix(const E* __restrict__ x, E* __restrict__ y, i64 n, i32 count, i64 inner, \
                                              i32 dim, i32 start, i32 step)                                         \
    {                                                                                                               \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                                  \
        {                                                                                                           \
            const i64 j = i % inner, k = i / inner % count, o = i / inner / count;                                  \
            y[i] = x[(o * dim + start + k * step) * inner + j];                                                     \
        }                                                                                                           \
    }

PXL_SLICE(b1, u8)
PXL_SLICE(b2, u16)
PXL_SLICE(b4, u32)
PXL_SLICE(b8, u64)
