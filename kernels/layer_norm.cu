// LayerNorm over the last dim (LayerNormOp): y = (x − mean) / √(var + eps) · weight + bias, biased variance.
// layer_norm_<t>: grid = rows, block = (32·k, 1, 1) with k in 1..32, one block per row (any width, any alignment).
// Rows are stride elements apart; the first cols are normalised and the rest written as zeros (LayerNormOp.Width: a
// row padded to an aligned length keeps its padding zero).
// layer_norm_warp_<t> (below): one warp per row for aligned rows up to 2,048 wide. weight and bias may be null (the op's HasWeight / HasBias). Accumulation is fp32 whatever the storage type.
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void layer_norm_row(const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
                               T* __restrict__ y, i32 cols, i32 stride, float eps)
{
    __shared__ float scratch[32];
    const i64 row = blockIdx.x;
    x += row * stride;
    y += row * stride;

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
    for (i32 c = cols + threadIdx.x; c < stride; c += blockDim.x) y[c] = from_float<T>(0.0f);
}

#define PXL_LAYER_NORM(suffix, T)                                                                            \
    extern "C" __global__ void __launch_bounds__(1024)                                                      \
        layer_norm_##suffix(const T* x, const T* weight, const T* bias, T* y, i32 cols, i32 stride, float eps) \
    { pxl_dependent_launch();                                                                                \
        layer_norm_row<T>(x, weight, bias, y, cols, stride, eps);                                            \
    }

PXL_LAYER_NORM(f32, float)
PXL_LAYER_NORM(bf16, bf16)
PXL_LAYER_NORM(f16, half)

// Rows of at most PXL_WARP_ROW_MAX columns, one warp per row and (blockDim.x / 32) rows per block, grid-stride over
// rows: the row is read once with 16-byte loads into registers, so mean, variance and the output all come from there.
// Needs cols a multiple of the vector and x, y, weight, bias 16-byte aligned (the host checks; null weight/bias allowed).
#define PXL_WARP_ROW_MAX 2048

template <typename T>
PXL_DEVICE void layer_norm_warp_rows(const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
                                     T* __restrict__ y, i64 rows, i32 cols, float eps)
{
    typedef typename PackOf<T>::type P;
    const int V = PackOf<T>::V, PER_LANE = PXL_WARP_ROW_MAX / V / 32;
    const i32 lane = threadIdx.x & 31, chunks = cols / V;
    const i64 warps = (i64)gridDim.x * (blockDim.x >> 5);
    for (i64 row = (i64)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); row < rows; row += warps)
    {
        const P* xr = reinterpret_cast<const P*>(x + row * cols);
        P* yr = reinterpret_cast<P*>(y + row * cols);
        float v[PER_LANE * V];
        float sum = 0.0f;
#pragma unroll
        for (int m = 0; m < PER_LANE; m++)
        {
            const i32 k = lane + m * 32;
            if (k < chunks)
            {
                const P p = xr[k];
#pragma unroll
                for (int j = 0; j < V; j++) { v[m * V + j] = to_float(p.v[j]); sum += v[m * V + j]; }
            }
        }
        const float mean = warp_sum(sum) / (float)cols;
        float squares = 0.0f;
#pragma unroll
        for (int m = 0; m < PER_LANE; m++)
            if (lane + m * 32 < chunks)
#pragma unroll
                for (int j = 0; j < V; j++) { const float d = v[m * V + j] - mean; squares += d * d; }
        const float inv_std = rsqrtf(warp_sum(squares) / (float)cols + eps);
#pragma unroll
        for (int m = 0; m < PER_LANE; m++)
        {
            const i32 k = lane + m * 32;
            if (k >= chunks) continue;
            P w, b, out;
            if (weight) w = reinterpret_cast<const P*>(weight)[k];
            if (bias) b = reinterpret_cast<const P*>(bias)[k];
#pragma unroll
            for (int j = 0; j < V; j++)
            {
                float o = (v[m * V + j] - mean) * inv_std;
                if (weight) o *= to_float(w.v[j]);
                if (bias) o += to_float(b.v[j]);
                out.v[j] = from_float<T>(o);
            }
            yr[k] = out;
        }
    }
}

#define PXL_LAYER_NORM_WARP(suffix, T)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) layer_norm_warp_##suffix(const T* x, const T* weight, const T* bias, \
                                                                               T* y, i64 rows, i32 cols, float eps)     \
    { pxl_dependent_launch();                                                                                           \
        layer_norm_warp_rows<T>(x, weight, bias, y, rows, cols, eps);                                                   \
    }

PXL_LAYER_NORM_WARP(f32, float)
PXL_LAYER_NORM_WARP(bf16, bf16)
PXL_LAYER_NORM_WARP(f16, half)

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
    { pxl_dependent_launch();                                                                                    \
        PXL_GRID_STRIDE_LOOP(i, positions) layer_norm2d_at<T>(x, weight, bias, y, i, channels, plane, eps);      \
    }

PXL_LAYER_NORM2D(f32, float)
PXL_LAYER_NORM2D(bf16, bf16)
PXL_LAYER_NORM2D(f16, half)
