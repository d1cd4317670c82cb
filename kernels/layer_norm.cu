// LayerNorm over the last dim (LayerNormOp): y = (x − mean) / √(var + eps) · weight + bias, biased variance.
// Launch: grid = rows, block = (32·k, 1, 1) with k in 1..32 — one warp per row for short rows, a block for long
// ones. weight and bias may be null (the op's HasWeight / HasBias). Accumulation is fp32 whatever the storage type.
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void layer_norm_row(const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
                               T* __restrict__ y, i32 cols, float eps)
{
    __shared__ float scratch[32];
    const i64 row = blockIdx.x;
    x += row * cols;
    y += row * cols;

    float sum = 0.0f;
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x) sum += to_float(x[c]);
    const float mean = block_sum(sum, scratch) / (float)cols;

    // Two passes (mean, then squared deviations) instead of E[x²] − E[x]²: no cancellation on rows with a large mean.
    float squares = 0.0f;
    for (i32 c = threadIdx.x; c < cols; c += blockDim.x)
    {
        const float d = to_float(x[c]) - mean;
        squares += d * d;
    }
    const float inv_std = rsqrtf(block_sum(squares, scratch) / (float)cols + eps);

    for (i32 c = threadIdx.x; c < cols; c += blockDim.x)
    {
        float v = (to_float(x[c]) - mean) * inv_std;
        if (weight) v *= to_float(weight[c]);
        if (bias) v += to_float(bias[c]);
        y[c] = from_float<T>(v);
    }
}

#define PXL_LAYER_NORM(suffix, T)                                                                            \
    extern "C" __global__ void __launch_bounds__(1024)                                                      \
        layer_norm_##suffix(const T* x, const T* weight, const T* bias, T* y, i32 cols, float eps)         \
    {                                                                                                        \
        layer_norm_row<T>(x, weight, bias, y, cols, eps);                                                    \
    }

PXL_LAYER_NORM(f32, float)
PXL_LAYER_NORM(bf16, bf16)
PXL_LAYER_NORM(f16, half)

// LayerNorm2dOp (SAM): NCHW x (B, C, H, W), layer norm over C at every (b, position) — C is strided by H·W, so one
// thread owns one position and neighbouring threads read neighbouring positions. Two passes in fp32.
// Launch: any 1-D grid over B·H·W.
template <typename T>
PXL_DEVICE void layer_norm2d_at(const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
                                T* __restrict__ y, i64 i, i32 channels, i64 plane, float eps)
{
    const i64 base = i / plane * channels * plane + i % plane;
    float sum = 0.0f;
    for (i32 c = 0; c < channels; c++) sum += to_float(x[base + c * plane]);
    const float mean = sum / (float)channels;
    float squares = 0.0f;
    for (i32 c = 0; c < channels; c++)
    {
        const float d = to_float(x[base + c * plane]) - mean;
        squares += d * d;
    }
    const float inv_std = rsqrtf(squares / (float)channels + eps);
    for (i32 c = 0; c < channels; c++)
        y[base + c * plane] = from_float<T>((to_float(x[base + c * plane]) - mean) * inv_std * to_float(weight[c]) + to_float(bias[c]));
}

#define PXL_LAYER_NORM2D(suffix, T)                                                                              \
    extern "C" __global__ void layer_norm2d_##suffix(const T* x, const T* weight, const T* bias, T* y, i64 positions, \
                                                     i32 channels, i64 plane, float eps)                         \
    {                                                                                                            \
        PXL_GRID_STRIDE_LOOP(i, positions) layer_norm2d_at<T>(x, weight, bias, y, i, channels, plane, eps);      \
    }

PXL_LAYER_NORM2D(f32, float)
PXL_LAYER_NORM2D(bf16, bf16)
PXL_LAYER_NORM2D(f16, half)
