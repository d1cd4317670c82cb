// RMS norm over the last dim (RmsNormOp, T5): y = x / √(mean(x²) + eps) · weight; no mean subtraction, no bias.
// Launch: grid = rows, block = (32·k, 1, 1) with k in 1..32 — one warp per row for short rows, a block for long
// ones. Accumulation is fp32 whatever the storage type.
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void rms_norm_row(const T* __restrict__ x, const T* __restrict__ weight, T* __restrict__ y, i32 cols, float eps)
{
    __shared__ float scratch[32];
    const i64 row = blockIdx.x;
    x += row * cols;
    y += row * cols;

    float squares = 0.0f;
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x)
    {
        const float v = to_float(x[c]);
        squares += v * v;
    }
    const float inv_rms = rsqrtf(block_sum(squares, scratch) / (float)cols + eps);

    for (i32 c = threadIdx.x; c < cols; c += blockDim.x)
        y[c] = from_float<T>(to_float(x[c]) * inv_rms * to_float(weight[c]));
}

#define PXL_RMS_NORM(suffix, T)                                                                  \
    extern "C" __global__ void __launch_bounds__(1024)                                          \
        rms_norm_##suffix(const T* x, const T* weight, T* y, i32 cols, float eps)              \
    {                                                                                            \
        rms_norm_row<T>(x, weight, y, cols, eps);                                                \
    }

PXL_RMS_NORM(f32, float)
PXL_RMS_NORM(bf16, bf16)
PXL_RMS_NORM(f16, half)
