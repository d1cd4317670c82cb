// WriteAtOp, in place: y viewed as (outer, size, inner) gets values (outer, count, inner) at [position, position + count)
// along the middle axis; position is an i32 on the device (so a captured graph replays with new positions). A window
// that does not fit raises PXL_ERR_POSITION and nothing is written (every thread checks the same condition).
// Data movement only: write_at_b1/b2/b4/b8. Launch: any 1-D grid over values' elements.
#include "prelude.cuh"

#define PXL_WRITE_AT(suffix, E)                                                                                     \
    extern "C" __global__ void write_at_##suffix(const E* __restrict__ values, const i32* __restrict__ position, E* y, \
                                                 i64 n, i32 count, i32 size, i64 inner, i32* error)                 \
    { pxl_dependent_launch();                                                                                       \
        const i32 p = *position;                                                                                    \
        if (p < 0 || p > size - count)                                                                              \
        {                                                                                                           \
            if (blockIdx.x == 0 && threadIdx.x == 0) pxl_fail(error, PXL_ERR_POSITION);                             \
            return;                                                                                                 \
        }                                                                                                           \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                                  \
        {                                                                                                           \
            const i64 o = i / ((i64)count * inner), r = i % ((i64)count * inner);                                   \
            y[(o * size + p) * inner + r] = values[i];                                                              \
        }                                                                                                           \
    }

PXL_WRITE_AT(b1, u8)
PXL_WRITE_AT(b2, u16)
PXL_WRITE_AT(b4, u32)
PXL_WRITE_AT(b8, u64)
