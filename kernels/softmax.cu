// Softmax over the last dim (SoftmaxOp), max-subtracted: y = exp(x − max) / Σ exp(x − max); and LogSoftmaxOp:
// y = x − max − log Σ exp(x − max).
// A row that is entirely −inf has no defined softmax; it comes out all NaN, as the formula gives ((−inf) − (−inf) = NaN).
// Launch: grid = rows, block = (32·k, 1, 1) with k in 1..32. Accumulation is fp32 whatever the storage type.
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void softmax_row(const T* __restrict__ x, T* __restrict__ y, i32 cols)
{
    __shared__ float scratch[32];
    const i64 row = blockIdx.x;
    x += row * cols;
    y += row * cols;

    float max = pxl_neg_inf();
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x) max = fmaxf(max, to_float(x[c]));
    max = block_max(max, scratch);

    // Written out rather than left to the arithmetic so the result does not depend on fast-math flags.
    if (max == pxl_neg_inf())
    {
        for (i32 c = threadIdx.x; c < cols; c += blockDim.x) y[c] = from_float<T>(pxl_nan());
        return;
    }

    float sum = 0.0f;
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x) sum += expf(to_float(x[c]) - max);
    const float inv_sum = 1.0f / block_sum(sum, scratch);

    // exp is recomputed rather than stored in y: a bf16/f16 y would round the numerator before the division.
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x) y[c] = from_float<T>(expf(to_float(x[c]) - max) * inv_sum);
}

#define PXL_SOFTMAX(suffix, T)                                                                          \
    extern "C" __global__ void __launch_bounds__(1024) softmax_##suffix(const T* x, T* y, i32 cols)    \
    { pxl_dependent_launch();                                                                           \
        softmax_row<T>(x, y, cols);                                                                     \
    }

PXL_SOFTMAX(f32, float)
PXL_SOFTMAX(bf16, bf16)
PXL_SOFTMAX(f16, half)

template <typename T>
PXL_DEVICE void log_softmax_row(const T* __restrict__ x, T* __restrict__ y, i32 cols)
{
    __shared__ float scratch[32];
    const i64 row = blockIdx.x;
    x += row * cols;
    y += row * cols;

    float max = pxl_neg_inf();
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x) max = fmaxf(max, to_float(x[c]));
    max = block_max(max, scratch);
    if (max == pxl_neg_inf())
    {
        for (i32 c = threadIdx.x; c < cols; c += blockDim.x) y[c] = from_float<T>(pxl_nan());
        return;
    }

    float sum = 0.0f;
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x) sum += expf(to_float(x[c]) - max);
    const float log_sum = logf(block_sum(sum, scratch));
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x) y[c] = from_float<T>(to_float(x[c]) - max - log_sum);
}

#define PXL_LOG_SOFTMAX(suffix, T)                                                                          \
    extern "C" __global__ void __launch_bounds__(1024) log_softmax_##suffix(const T* x, T* y, i32 cols)    \
    { pxl_dependent_launch();                                                                               \
        log_softmax_row<T>(x, y, cols);                                                                     \
    }

PXL_LOG_SOFTMAX(f32, float)
PXL_LOG_SOFTMAX(bf16, bf16)
PXL_LOG_SOFTMAX(f16, half)
