// ConvTranspose2dOp (no padding): channels-last x (B, H, W, Cin), PyTorch weight (Cin, Cout, kh, kw) →
// y (B, (H−1)·s + kh, (W−1)·s + kw, Cout). Gather form: each output sums the inputs whose stride-s footprint covers it,
// so no atomics are needed. fp32 accumulation; bias may be null. Launch: any 1-D grid over y's elements.
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void conv_transpose_at(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias, T* __restrict__ y,
                                  i64 i, i32 height, i32 width, i32 cin, i32 cout, i32 kh, i32 kw, i32 stride, i32 out_h, i32 out_w)
{
    const i32 co = (i32)(i % cout), ox = (i32)(i / cout % out_w), oy = (i32)(i / cout / out_w % out_h);
    const i64 b = i / cout / out_w / out_h;
    float sum = bias ? to_float(bias[co]) : 0.0f;
    for (i32 ky = oy % stride; ky < kh; ky += stride)
    {
        const i32 iy = (oy - ky) / stride;
        if (iy < 0 || iy >= height) continue;
        for (i32 kx = ox % stride; kx < kw; kx += stride)
        {
            const i32 ix = (ox - kx) / stride;
            if (ix < 0 || ix >= width) continue;
            const T* from = x + ((b * height + iy) * width + ix) * cin;
            const T* tap = w + ((i64)co * kh + ky) * kw + kx;
            const i64 tap_stride = (i64)cout * kh * kw;
            for (i32 c = 0; c < cin; c++) sum += to_float(from[c]) * to_float(tap[c * tap_stride]);
        }
    }
    y[i] = from_float<T>(sum);
}

#define PXL_CONV_T(suffix, T)                                                                                       \
    extern "C" __global__ void conv_transpose2d_##suffix(const T* x, const T* w, const T* bias, T* y, i64 n, i32 height, \
        i32 width, i32 cin, i32 cout, i32 kh, i32 kw, i32 stride, i32 out_h, i32 out_w)                           \
    { pxl_dependent_launch();                                                                                       \
        PXL_GRID_STRIDE_LOOP(i, n) conv_transpose_at<T>(x, w, bias, y, i, height, width, cin, cout, kh, kw, stride, out_h, out_w); \
    }

PXL_CONV_T(f32, float)
PXL_CONV_T(bf16, bf16)
PXL_CONV_T(f16, half)
