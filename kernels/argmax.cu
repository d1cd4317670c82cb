// ArgMaxOp: index of the row maximum over the last dim → i32, first index on ties, a NaN ranks above every number
// (so a row holding NaN yields its first NaN), as in torch.argmax and the CPU backend.
// Launch: grid = rows, block = (32·k, 1, 1) with k in 1..32.
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void argmax_row(const T* __restrict__ x, i32* __restrict__ y, i32 cols)
{
    __shared__ float values[32];
    __shared__ i32 indices[32];
    x += (i64)blockIdx.x * cols;
    float best = 0.0f;
    i32 at = -1;
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x)
    {
        const float v = to_float(x[c]);
        if (pxl_better(v, c, best, at)) { best = v; at = c; }
    }
    block_best(best, at, values, indices);
    if (threadIdx.x == 0) y[blockIdx.x] = at;
}

#define PXL_ARGMAX(suffix, T) \
    extern "C" __global__ void __launch_bounds__(1024) argmax_##suffix(const T* x, i32* y, i32 cols) { pxl_dependent_launch(); argmax_row<T>(x, y, cols); }

PXL_ARGMAX(f32, float)
PXL_ARGMAX(bf16, bf16)
PXL_ARGMAX(f16, half)
