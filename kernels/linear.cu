// The bias epilogue of LinearOp (and of Conv2dOp after its GEMM): y (rows, cols) += bias (cols), in place.
// The GEMM itself is cuBLAS. Launch: any 1-D grid; the kernels stride over rows·cols elements.
#include "prelude.cuh"

#define PXL_BIAS(suffix, T)                                                                               \
    extern "C" __global__ void linear_bias_##suffix(T* __restrict__ y, const T* __restrict__ bias, i64 n, i32 cols) \
    {                                                                                                     \
        PXL_GRID_STRIDE_LOOP(i, n) y[i] = from_float<T>(to_float(y[i]) + to_float(bias[i % cols]));       \
    }

PXL_BIAS(f32, float)
PXL_BIAS(bf16, bf16)
PXL_BIAS(f16, half)
