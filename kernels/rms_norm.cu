// RMS norm over the last dim (RmsNormOp, T5): y = x / √(mean(x²) + eps) · weight; no mean subtraction, no bias.
// rms_norm_<t>: grid = rows, block = (32·k, 1, 1) with k in 1..32, one block per row (any width, any alignment);
// rms_norm_warp_<t> (below): one warp per row for aligned rows up to 2,048 wide. Accumulation is fp32 whatever the storage type.
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
    { pxl_dependent_launch();                                                                    \
        rms_norm_row<T>(x, weight, y, cols, eps);                                                \
    }

PXL_RMS_NORM(f32, float)
PXL_RMS_NORM(bf16, bf16)
PXL_RMS_NORM(f16, half)

// Rows of at most PXL_WARP_ROW_MAX columns, one warp per row and (blockDim.x / 32) rows per block, grid-stride over
// rows, the row held in registers after one pass of 16-byte loads. Needs cols a multiple of the vector and x, weight
// and y 16-byte aligned (the host checks).
#define PXL_WARP_ROW_MAX 2048

template <typename T>
PXL_DEVICE void rms_norm_warp_rows(const T* __restrict__ x, const T* __restrict__ weight, T* __restrict__ y, i64 rows,
                                   i32 cols, float eps)
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
        float squares = 0.0f;
#pragma unroll
        for (int m = 0; m < PER_LANE; m++)
        {
            const i32 k = lane + m * 32;
            if (k < chunks)
            {
                const P p = xr[k];
#pragma unroll
                for (int j = 0; j < V; j++) { v[m * V + j] = to_float(p.v[j]); squares += v[m * V + j] * v[m * V + j]; }
            }
        }
        const float inv_rms = rsqrtf(warp_sum(squares) / (float)cols + eps);
#pragma unroll
        for (int m = 0; m < PER_LANE; m++)
        {
            const i32 k = lane + m * 32;
            if (k >= chunks) continue;
            const P w = reinterpret_cast<const P*>(weight)[k];
            P out;
#pragma unroll
            for (int j = 0; j < V; j++) out.v[j] = from_float<T>(v[m * V + j] * inv_rms * to_float(w.v[j]));
            yr[k] = out;
        }
    }
}

#define PXL_RMS_NORM_WARP(suffix, T)                                                                                 \
    extern "C" __global__ void __launch_bounds__(256) rms_norm_warp_##suffix(const T* x, const T* weight, T* y, i64 rows, \
                                                                             i32 cols, float eps)                    \
    { pxl_dependent_launch();                                                                                        \
        rms_norm_warp_rows<T>(x, weight, y, rows, cols, eps);                                                        \
    }

PXL_RMS_NORM_WARP(f32, float)
PXL_RMS_NORM_WARP(bf16, bf16)
PXL_RMS_NORM_WARP(f16, half)
