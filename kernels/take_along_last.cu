// TakeAlongLastOp: y[r, j] = x[r, idx[r, j]] with x (rows, width), idx i32 (rows, k). An index outside [0, width)
// raises PXL_ERR_INDEX and writes 0. Launch: any 1-D grid over rows·k.
#include "prelude.cuh"

#define PXL_TAKE(suffix, T)                                                                                     \
    extern "C" __global__ void take_along_last_##suffix(const T* __restrict__ x, const i32* __restrict__ idx,   \
                                                        T* __restrict__ y, i64 n, i32 width, i32 k, i32* error) \
    { pxl_dependent_launch();                                                                                   \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                              \
        {                                                                                                       \
            const i32 c = idx[i];                                                                               \
            if (c < 0 || c >= width) { pxl_fail(error, PXL_ERR_INDEX); y[i] = T(); continue; }                  \
            y[i] = x[i / k * width + c];                                                                        \
        }                                                                                                       \
    }

PXL_TAKE(f32, float)
PXL_TAKE(bf16, bf16)
PXL_TAKE(f16, half)
PXL_TAKE(i32, i32)
PXL_TAKE(i64, i64)
PXL_TAKE(u8, u8)
