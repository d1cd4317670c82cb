// Elementwise activations (UnaryOp) and the affine ScaleOp: y = f(x) over n elements, computed in fp32 whatever the
// storage type. gelu is the exact erf form, gelu_tanh the tanh approximation (UnaryKind.Gelu / GeluTanh).
// Launch: any 1-D grid; the kernels stride over the whole tensor (the host sizes it by 16-byte vectors).
#include "prelude.cuh"

// gelu, relu, gelu_tanh and silu live in prelude.cuh (the GLU, gemv and mlp kernels apply them too).

// Written as x / (1 + e^{-x}) like silu, so large negative inputs underflow to 0 rather than producing NaN.
PXL_DEVICE float sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }
PXL_DEVICE float tanh_(float v) { return tanhf(v); }
PXL_DEVICE float exp_(float v) { return expf(v); }
PXL_DEVICE float neg(float v) { return -v; }
PXL_DEVICE float sqrt_(float v) { return sqrtf(v); }
PXL_DEVICE float abs_(float v) { return fabsf(v); }

// y = f(x) over n elements: 16 bytes per load/store when both pointers are 16-byte aligned (checked here, so the host
// never has to), the ragged tail and misaligned views element by element. No index math beyond the grid stride.
template <typename T, typename F>
PXL_DEVICE void map_elements(const T* __restrict__ x, T* __restrict__ y, i64 n, F f)
{
    typedef typename PackOf<T>::type P;
    const int V = PackOf<T>::V;
    i64 done = 0;
    if (pxl_aligned16(x) && pxl_aligned16(y))
    {
        const i64 chunks = n / V;
        PXL_GRID_STRIDE_LOOP(k, chunks)
        {
            P v = reinterpret_cast<const P*>(x)[k];
#pragma unroll
            for (int j = 0; j < V; j++) v.v[j] = from_float<T>(f(to_float(v.v[j])));
            reinterpret_cast<P*>(y)[k] = v;
        }
        done = chunks * V;
    }
    for (i64 i = done + (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x)
        y[i] = from_float<T>(f(to_float(x[i])));
}

#define PXL_UNARY(name, suffix, T)                                                               \
    extern "C" __global__ void name##_##suffix(const T* __restrict__ x, T* __restrict__ y, i64 n) \
    { pxl_dependent_launch();                                                                    \
        map_elements(x, y, n, name##_fn());                                                      \
    }

#define PXL_UNARY_ALL_TYPES(name)                                                  \
    struct name##_fn { PXL_DEVICE float operator()(float v) const { return name(v); } }; \
    PXL_UNARY(name, f32, float)                                                    \
    PXL_UNARY(name, bf16, bf16)                                                    \
    PXL_UNARY(name, f16, half)

PXL_UNARY_ALL_TYPES(gelu)
PXL_UNARY_ALL_TYPES(gelu_tanh)
PXL_UNARY_ALL_TYPES(silu)
PXL_UNARY_ALL_TYPES(relu)
PXL_UNARY_ALL_TYPES(sigmoid)
PXL_UNARY_ALL_TYPES(tanh_)
PXL_UNARY_ALL_TYPES(exp_)
PXL_UNARY_ALL_TYPES(neg)
PXL_UNARY_ALL_TYPES(sqrt_)
PXL_UNARY_ALL_TYPES(abs_)

// ScaleOp: y = x · scale + shift.
struct affine_fn
{
    float scale, shift;
    PXL_DEVICE float operator()(float v) const { return v * scale + shift; }
};

#define PXL_SCALE(suffix, T)                                                                                        \
    extern "C" __global__ void scale_##suffix(const T* __restrict__ x, T* __restrict__ y, i64 n, float scale, float shift) \
    { pxl_dependent_launch();                                                                                       \
        affine_fn f = {scale, shift};                                                                               \
        map_elements(x, y, n, f);                                                                                   \
    }

PXL_SCALE(f32, float)
PXL_SCALE(bf16, bf16)
PXL_SCALE(f16, half)
