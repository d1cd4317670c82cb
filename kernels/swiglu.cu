// Gated linear units, elementwise, fp32 arithmetic whatever the storage type: SwiGLU (SwiGluOp) y = silu(gate) · x and
// GeGLU (GeGluOp) y = gelu_tanh(gate) · x, both activations prelude.cuh's. <name>_packed: gate and x side by side
// in rows of 2·width (Packed: one GEMM over the stacked weights made them), y (rows, width).
// Launch: any 1-D grid; the kernels stride over the whole output.
#include "prelude.cuh"

#define PXL_GLU(name, act, suffix, T)                                                                          \
    extern "C" __global__ void name##_##suffix(const T* __restrict__ gate, const T* __restrict__ x, T* __restrict__ y, i64 n) \
    { pxl_dependent_launch();                                                                                  \
        PXL_GRID_STRIDE_LOOP(i, n) { y[i] = from_float<T>(act(to_float(gate[i])) * to_float(x[i])); }          \
    }

#define PXL_GLU_ALL_TYPES(name, act) PXL_GLU(name, act, f32, float) PXL_GLU(name, act, bf16, bf16) PXL_GLU(name, act, f16, half)

PXL_GLU_ALL_TYPES(swiglu, silu)
PXL_GLU_ALL_TYPES(geglu, gelu_tanh)

#define PXL_GLU_PACKED(name, act, suffix, T)                                                                   \
    extern "C" __global__ void name##_packed_##suffix(const T* __restrict__ gate_x, T* __restrict__ y, i64 n, i32 width) \
    { pxl_dependent_launch();                                                                                  \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                             \
        {                                                                                                      \
            const i64 at = i / width * 2 * width + i % width;                                                  \
            y[i] = from_float<T>(act(to_float(gate_x[at])) * to_float(gate_x[at + width]));                   \
        }                                                                                                      \
    }

#define PXL_GLU_PACKED_ALL_TYPES(name, act)                                                                     \
    PXL_GLU_PACKED(name, act, f32, float) PXL_GLU_PACKED(name, act, bf16, bf16) PXL_GLU_PACKED(name, act, f16, half)

PXL_GLU_PACKED_ALL_TYPES(swiglu, silu)
PXL_GLU_PACKED_ALL_TYPES(geglu, gelu_tanh)
