// The bias epilogue of LinearOp (and of Conv2dOp after its GEMM): y (rows, cols) += bias (cols), in place.
// The GEMM itself is cuBLAS. No index division: grid.y walks rows, grid.x and the block walk a row's columns (both
// grid-stride). linear_bias_vec_<t> moves 16 bytes per load/store and needs y and bias 16-byte aligned and cols a
// multiple of the vector (the host checks); linear_bias_<t> is the scalar fallback. Launch: 2-D grid, any block.
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void bias_rows(T* __restrict__ y, const T* __restrict__ bias, i64 rows, i64 cols)
{
    for (i64 r = blockIdx.y; r < rows; r += gridDim.y)
    {
        T* yr = y + r * cols;
        for (i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (i64)gridDim.x * blockDim.x)
            yr[c] = from_float<T>(to_float(yr[c]) + to_float(bias[c]));
    }
}

template <typename T>
PXL_DEVICE void bias_rows_vec(T* __restrict__ y, const T* __restrict__ bias, i64 rows, i64 cols)
{
    typedef typename PackOf<T>::type P;
    const int V = PackOf<T>::V;
    const i64 chunks = cols / V;
    const P* b = reinterpret_cast<const P*>(bias);
    for (i64 r = blockIdx.y; r < rows; r += gridDim.y)
    {
        P* yr = reinterpret_cast<P*>(y + r * cols);
        for (i64 k = (i64)blockIdx.x * blockDim.x + threadIdx.x; k < chunks; k += (i64)gridDim.x * blockDim.x)
        {
            P v = yr[k];
            const P w = b[k];
#pragma unroll
            for (int j = 0; j < V; j++) v.v[j] = from_float<T>(to_float(v.v[j]) + to_float(w.v[j]));
            yr[k] = v;
        }
    }
}

#define PXL_BIAS(suffix, T)                                                                                       \
    extern "C" __global__ void linear_bias_##suffix(T* __restrict__ y, const T* __restrict__ bias, i64 rows, i64 cols) \
    { pxl_dependent_launch();                                                                                     \
        bias_rows<T>(y, bias, rows, cols);                                                                        \
    }                                                                                                             \
    extern "C" __global__ void linear_bias_vec_##suffix(T* __restrict__ y, const T* __restrict__ bias, i64 rows,     \
                                                        i64 cols)                                                 \
    { pxl_dependent_launch();                                                                                     \
        bias_rows_vec<T>(y, bias, rows, cols);                                                                    \
    }

PXL_BIAS(f32, float)
PXL_BIAS(bf16, bf16)
PXL_BIAS(f16, half)
