// SAM window partition (WindowPartitionOp) and its inverse (WindowUnpartitionOp) on channels-last tensors.
// partition: x (B, H, W, C) → y (B·nh·nw, w, w, C), zero padding at bottom/right, windows row-major.
// unpartition: x (B·nh·nw, w, w, C) → y (B, H, W, C), padding dropped. Data movement only, per element size.
// Launch: any 1-D grid over y's elements.
#include "prelude.cuh"

#define PXL_WINDOWS(suffix, E)                                                                                     \
    extern "C" __global__ void window_partition_##suffix(const E* __restrict__ x, E* __restrict__ y, i64 n, i32 height, \
                                                         i32 width, i32 channels, i32 window)                     \
    {                                                                                                              \
        const i32 nh = (height + window - 1) / window, nw = (width + window - 1) / window;                         \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                                 \
        {                                                                                                          \
            const i32 ch = (i32)(i % channels);                                                                    \
            i64 rest = i / channels;                                                                               \
            const i32 c = (i32)(rest % window); rest /= window;                                                    \
            const i32 r = (i32)(rest % window); rest /= window;                                                    \
            const i32 col = (i32)(rest % nw); rest /= nw;                                                          \
            const i32 row = (i32)(rest % nh);                                                                      \
            const i64 b = rest / nh;                                                                               \
            const i32 py = row * window + r, px = col * window + c;                                                \
            y[i] = (py < height && px < width) ? x[((b * height + py) * width + px) * channels + ch] : E();        \
        }                                                                                                          \
    }                                                                                                              \
    extern "C" __global__ void window_unpartition_##suffix(const E* __restrict__ x, E* __restrict__ y, i64 n, i32 height, \
                                                           i32 width, i32 channels, i32 window)                   \
    {                                                                                                              \
        const i32 nh = (height + window - 1) / window, nw = (width + window - 1) / window;                         \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                                 \
        {                                                                                                          \
            const i32 ch = (i32)(i % channels);                                                                    \
            i64 rest = i / channels;                                                                               \
            const i32 px = (i32)(rest % width); rest /= width;                                                     \
            const i32 py = (i32)(rest % height);                                                                   \
            const i64 b = rest / height;                                                                           \
            const i64 win = (b * nh + py / window) * nw + px / window;                                             \
            y[i] = x[((win * window + py % window) * window + px % window) * channels + ch];                       \
        }                                                                                                          \
    }

PXL_WINDOWS(b1, u8)
PXL_WINDOWS(b2, u16)
PXL_WINDOWS(b4, u32)
PXL_WINDOWS(b8, u64)
