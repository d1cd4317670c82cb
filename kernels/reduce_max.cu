// ReduceMaxOp: x viewed as (outer, n ≥ 1, inner) → y (outer, inner), the maximum over n; a NaN wins (torch.amax).
// One thread per output, so neighbouring threads read neighbouring inner elements. Launch: any 1-D grid.
#include "prelude.cuh"

#define PXL_REDUCE_MAX(suffix, T)                                                                                \
    extern "C" __global__ void reduce_max_##suffix(const T* __restrict__ x, T* __restrict__ y, i64 outputs, i32 n, i64 inner) \
    { pxl_dependent_launch();                                                                                    \
        PXL_GRID_STRIDE_LOOP(i, outputs)                                                                         \
        {                                                                                                        \
            const T* from = x + i / inner * n * inner + i % inner;                                               \
            float best = to_float(from[0]);                                                                      \
            for (i32 j = 1; j < n && best == best; j++)                                                          \
            {                                                                                                    \
                const float v = to_float(from[j * inner]);                                                       \
                if (v > best || v != v) best = v;                                                                \
            }                                                                                                    \
            y[i] = from_float<T>(best);                                                                          \
        }                                                                                                        \
    }

PXL_REDUCE_MAX(f32, float)
PXL_REDUCE_MAX(bf16, bf16)
PXL_REDUCE_MAX(f16, half)
