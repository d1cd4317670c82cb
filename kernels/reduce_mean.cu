// ReduceMeanOp: x viewed as (outer, n, inner) → y (outer, inner), the fp32 mean over n; n = 0 gives NaN (torch.mean).
// One thread per output, so neighbouring threads read neighbouring inner elements. Launch: any 1-D grid.
#include "prelude.cuh"

#define PXL_REDUCE_MEAN(suffix, T)                                                                               \
    extern "C" __global__ void reduce_mean_##suffix(const T* __restrict__ x, T* __restrict__ y, i64 outputs, i32 n, i64 inner) \
    { pxl_dependent_launch();                                                                                    \
        PXL_GRID_STRIDE_LOOP(i, outputs)                                                                         \
        {                                                                                                        \
            const T* from = x + i / inner * n * inner + i % inner;                                               \
            float sum = 0.0f;                                                                                    \
            for (i32 j = 0; j < n; j++) sum += to_float(from[j * inner]);                                        \
            y[i] = from_float<T>(n == 0 ? pxl_nan() : sum / (float)n);                                           \
        }                                                                                                        \
    }

PXL_REDUCE_MEAN(f32, float)
PXL_REDUCE_MEAN(bf16, bf16)
PXL_REDUCE_MEAN(f16, half)
