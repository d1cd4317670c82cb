// Conv2dOp's im2col: channels-last x (B, H, W, C) → cols (B·Ho·Wo, C·kh·kw), column order (c, ky, kx) so that cols ·
// weightᵀ with PyTorch's weight (Cout, C, kh, kw) viewed as (Cout, C·kh·kw) is the convolution (cuBLAS does that
// GEMM; linear.cu adds the bias). Zero padding. Launch: any 1-D grid over cols' elements.
#include "prelude.cuh"

#define PXL_IM2COL(suffix, T)                                                                                       \
    extern "C" __global__ void conv2d_im2col_##suffix(const T* __restrict__ x, T* __restrict__ cols, i64 n, i32 height, \
        i32 width, i32 channels, i32 kh, i32 kw, i32 stride_h, i32 stride_w, i32 pad_h, i32 pad_w, i32 out_h, i32 out_w) \
    { pxl_dependent_launch();                                                                                       \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                                  \
        {                                                                                                           \
            const i32 kx = (i32)(i % kw), ky = (i32)(i / kw % kh), c = (i32)(i / kw / kh % channels);               \
            const i64 pixel = i / ((i64)kw * kh * channels);                                                        \
            const i32 ox = (i32)(pixel % out_w), oy = (i32)(pixel / out_w % out_h);                                 \
            const i64 b = pixel / out_w / out_h;                                                                    \
            const i32 iy = oy * stride_h - pad_h + ky, ix = ox * stride_w - pad_w + kx;                             \
            cols[i] = (iy >= 0 && iy < height && ix >= 0 && ix < width)                                             \
                ? x[((b * height + iy) * width + ix) * channels + c] : T();                                         \
        }                                                                                                           \
    }

PXL_IM2COL(f32, float)
PXL_IM2COL(bf16, bf16)
PXL_IM2COL(f16, half)
