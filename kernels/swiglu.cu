// SwiGLU (SwiGluOp): y = silu(gate) · x, and GeGLU (GeGluOp): y = gelu_tanh(gate) · x (unary.cu's tanh GELU), elementwise,
// fp32 arithmetic whatever the storage type.
// Launch: any 1-D grid; the kernels stride over the whole tensor.
#include "prelude.cuh"

#define PXL_SWIGLU(suffix, T)                                                                                  \
    extern "C" __global__ void swiglu_##suffix(const T* __restrict__ gate, const T* __restrict__ x, T* __restrict__ y, i64 n) \
    {                                                                                                          \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                             \
        {                                                                                                      \
            const float g = to_float(gate[i]);                                                                 \
            y[i] = from_float<T>(g / (1.0f + expf(-g)) * to_float(x[i]));                                      \
        }                                                                                                      \
    }

PXL_SWIGLU(f32, float)
PXL_SWIGLU(bf16, bf16)
PXL_SWIGLU(f16, half)

#define PXL_GEGLU(suffix, T)                                                                                   \
    extern "C" __global__ void geglu_##suffix(const T* __restrict__ gate, const T* __restrict__ x, T* __restrict__ y, i64 n) \
    {                                                                                                          \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                             \
        {                                                                                                      \
            const float g = to_float(gate[i]);                                                                 \
            const float gelu = 0.5f * g * (1.0f + tanhf(0.79788456080286536f * (g + 0.044715f * g * g * g)));  \
            y[i] = from_float<T>(gelu * to_float(x[i]));                                                       \
        }                                                                                                      \
    }

PXL_GEGLU(f32, float)
PXL_GEGLU(bf16, bf16)
PXL_GEGLU(f16, half)
