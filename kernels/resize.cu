// ResizeOp, one pass per resized axis (jax.image.resize / scale_and_translate semantics, spec §12.1): x viewed as
// (outer, in, inner) → y (outer, out, inner). Each output recomputes its sparse weights exactly as the CPU backend's
// ResizeWeights does (fp32, same order, no FMA contraction): sample s = (j + ½)·inv_scale − ½; no weight outside
// [−½, in − ½]; taps floor(s − r) … ceil(s + r) clamped; a column whose raw weights sum to ≤ 1000·eps is zero.
// kernel: 0 linear (triangle), 1 Keys cubic (a = −0.5). Launch: any 1-D grid over y's elements.
#include "prelude.cuh"

PXL_DEVICE float resize_weight(i32 kernel, float x)
{
    if (kernel == 0) return fmaxf(0.0f, __fsub_rn(1.0f, x));
    if (x >= 2.0f) return 0.0f;
    if (x >= 1.0f) return __fadd_rn(__fmul_rn(__fadd_rn(__fmul_rn(__fadd_rn(__fmul_rn(-0.5f, x), 2.5f), x), -4.0f), x), 2.0f);
    return __fadd_rn(__fmul_rn(__fmul_rn(__fsub_rn(__fmul_rn(1.5f, x), 2.5f), x), x), 1.0f);
}

template <typename T>
PXL_DEVICE void resize_at(const T* __restrict__ x, T* __restrict__ y, i64 i, i32 in_size, i32 out_size, i64 inner,
                          i32 kernel, float inv_scale, float kernel_scale, float radius)
{
    const i64 k = i % inner, o = i / inner / out_size;
    const i32 j = (i32)(i / inner % out_size);
    const float sample = __fsub_rn(__fmul_rn(__fadd_rn((float)j, 0.5f), inv_scale), 0.5f);
    float result = 0.0f;
    if (sample >= -0.5f && sample <= __fsub_rn((float)in_size, 0.5f))
    {
        const i32 first = max(0, (i32)floorf(__fsub_rn(sample, radius)));
        const i32 last = min(in_size - 1, (i32)ceilf(__fadd_rn(sample, radius)));
        float sum = 0.0f;
        for (i32 t = first; t <= last; t++) sum = __fadd_rn(sum, resize_weight(kernel, __fdiv_rn(fabsf(__fsub_rn(sample, (float)t)), kernel_scale)));
        if (fabsf(sum) > 1000.0f * 1.1920929e-7f)
        {
            const T* from = x + o * in_size * inner + k;
            for (i32 t = first; t <= last; t++)
            {
                const float w = __fdiv_rn(resize_weight(kernel, __fdiv_rn(fabsf(__fsub_rn(sample, (float)t)), kernel_scale)), sum);
                result = __fadd_rn(result, __fmul_rn(w, to_float(from[t * inner])));
            }
        }
    }
    y[i] = from_float<T>(result);
}

#define PXL_RESIZE(suffix, T)                                                                                       \
    extern "C" __global__ void resize_##suffix(const T* x, T* y, i64 n, i32 in_size, i32 out_size, i64 inner, i32 kernel, \
                                               float inv_scale, float kernel_scale, float radius)                   \
    { pxl_dependent_launch();                                                                                       \
        PXL_GRID_STRIDE_LOOP(i, n) resize_at<T>(x, y, i, in_size, out_size, inner, kernel, inv_scale, kernel_scale, radius); \
    }

PXL_RESIZE(f32, float)
PXL_RESIZE(bf16, bf16)
PXL_RESIZE(f16, half)
