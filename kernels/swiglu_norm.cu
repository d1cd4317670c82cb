// SwiGluNormOp (EVA02's MLP middle: silu(gate) · x, then the sub-LayerNorm over the first `cols` of each `width`-long
// row, the padding written as zeros) in one pass over gate | x, instead of SwiGlu's launch writing h and LayerNorm's
// reading it back (the block-per-row kernel, for EVA02's 2,730 of 2,736). One warp per row: h = silu(g) · x, rounded to T
// as the SwiGlu step stores it, goes to the warp's row of shared memory; then mean and variance over the first cols in
// two passes and y as layer_norm.cu computes them. Rows of gx are 2·width elements, width a multiple of the 16-byte
// vector and gx, y 16-byte aligned (the host checks); weight and bias have cols elements, any alignment.
// Launch: grid = ceil(rows / SN_WARPS), block = 32·SN_WARPS, dynamic shared memory = SN_WARPS · width · sizeof(T).
#include "prelude.cuh"

#define SN_WARPS 8

template <typename T>
PXL_DEVICE void swiglu_norm_row(const T* __restrict__ gx, const T* __restrict__ weight, const T* __restrict__ bias, T* __restrict__ y,
                                i64 rows, i32 width, i32 cols, float eps)
{
    typedef typename PackOf<T>::type P;
    const int V = PackOf<T>::V;
    extern __shared__ __align__(16) u8 sn_shared[];
    const i32 warp = threadIdx.x >> 5, lane = threadIdx.x & 31, chunks = width / V;
    const i64 row = (i64)blockIdx.x * SN_WARPS + warp;
    if (row >= rows) return; // warps only: no block barrier follows
    P* h = reinterpret_cast<P*>(sn_shared) + (i64)warp * chunks;
    const P* gate = reinterpret_cast<const P*>(gx + row * 2 * width);
    const P* x = gate + chunks;

    float sum = 0.0f;
    for (i32 k = lane; k < chunks; k += 32)
    {
        const P g = gate[k], v = x[k];
        P o;
#pragma unroll
        for (int j = 0; j < V; j++)
        {
            o.v[j] = from_float<T>(silu(to_float(g.v[j])) * to_float(v.v[j]));
            if (k * V + j < cols) sum += to_float(o.v[j]);
        }
        h[k] = o;
    }
    __syncwarp();
    const float mean = warp_sum(sum) / (float)cols;
    float squares = 0.0f;
    for (i32 k = lane; k < chunks; k += 32)
    {
        const P o = h[k];
#pragma unroll
        for (int j = 0; j < V; j++)
            if (k * V + j < cols)
            {
                const float d = to_float(o.v[j]) - mean;
                squares += d * d;
            }
    }
    const float inv_std = rsqrtf(warp_sum(squares) / (float)cols + eps);
    P* out = reinterpret_cast<P*>(y + row * width);
    for (i32 k = lane; k < chunks; k += 32)
    {
        const P o = h[k];
        P r;
#pragma unroll
        for (int j = 0; j < V; j++)
        {
            const i32 c = k * V + j;
            float v = 0.0f;
            if (c < cols)
            {
                v = (to_float(o.v[j]) - mean) * inv_std;
                v *= to_float(weight[c]);
                v += to_float(bias[c]);
            }
            r.v[j] = from_float<T>(v);
        }
        out[k] = r;
    }
}

#define PXL_SWIGLU_NORM(suffix, T)                                                                                    \
    extern "C" __global__ void __launch_bounds__(32 * SN_WARPS) swiglu_norm_##suffix(                                  \
        const T* gx, const T* weight, const T* bias, T* y, i64 rows, i32 width, i32 cols, float eps)                   \
    { pxl_dependent_launch();                                                                                         \
        swiglu_norm_row<T>(gx, weight, bias, y, rows, width, cols, eps);                                             \
    }

PXL_SWIGLU_NORM(f32, float)
PXL_SWIGLU_NORM(bf16, bf16)
PXL_SWIGLU_NORM(f16, half)
