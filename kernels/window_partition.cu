// SAM window partition (WindowPartitionOp) and its inverse (WindowUnpartitionOp) on channels-last tensors.
// partition: x (B, H, W, C) → y (B·nh·nw, w, w, C), padding at bottom/right, windows row-major: each padded pixel is
// the pad row (C) when given (a Linear's bias, the Linear having run before the partition), else zeros.
// unpartition: x (B·nh·nw, w, w, C) → y (B, H, W, C), padding dropped.
// Data movement only, as row copies: each output pixel's C channels are one contiguous run of `units` copy units
// (b1 … b16: the host picks the widest unit dividing C·element size and both pointers), so the pixel's index math is
// done once per row, not per element. rows = output pixels. Launch: grid (x over units, y over rows — both
// grid-stride), any block.
#include "prelude.cuh"

template <typename E>
PXL_DEVICE void copy_run(const E* __restrict__ from, E* __restrict__ to, i32 units)
{
    for (i32 u = blockIdx.x * blockDim.x + threadIdx.x; u < units; u += gridDim.x * blockDim.x) to[u] = from ? from[u] : E();
}

template <typename E>
PXL_DEVICE void partition_rows(const E* __restrict__ x, const E* __restrict__ pad, E* __restrict__ y, i64 rows, i32 height,
                               i32 width, i32 units, i32 window)
{
    const i32 nh = (height + window - 1) / window, nw = (width + window - 1) / window;
    for (i64 r = blockIdx.y; r < rows; r += gridDim.y)
    {
        i64 rest = r;
        const i32 c = (i32)(rest % window); rest /= window;
        const i32 wr = (i32)(rest % window); rest /= window;
        const i32 col = (i32)(rest % nw); rest /= nw;
        const i32 row = (i32)(rest % nh);
        const i64 b = rest / nh;
        const i32 py = row * window + wr, px = col * window + c;
        const E* from = (py < height && px < width) ? x + ((b * height + py) * width + px) * units : pad;
        copy_run(from, y + r * units, units);
    }
}

template <typename E>
PXL_DEVICE void unpartition_rows(const E* __restrict__ x, E* __restrict__ y, i64 rows, i32 height, i32 width, i32 units,
                                 i32 window)
{
    const i32 nh = (height + window - 1) / window, nw = (width + window - 1) / window;
    for (i64 r = blockIdx.y; r < rows; r += gridDim.y)
    {
        const i32 px = (i32)(r % width), py = (i32)(r / width % height);
        const i64 b = r / width / height;
        const i64 win = (b * nh + py / window) * nw + px / window;
        copy_run(x + ((win * window + py % window) * window + px % window) * units, y + r * units, units);
    }
}

#define PXL_WINDOWS(suffix, E)                                                                                      \
    extern "C" __global__ void window_partition_##suffix(const E* __restrict__ x, const E* __restrict__ pad,         \
                                                         E* __restrict__ y, i64 rows, i32 height, i32 width,        \
                                                         i32 units, i32 window)                                     \
    { pxl_dependent_launch();                                                                                       \
        partition_rows<E>(x, pad, y, rows, height, width, units, window);                                           \
    }                                                                                                               \
    extern "C" __global__ void window_unpartition_##suffix(const E* __restrict__ x, E* __restrict__ y, i64 rows,     \
                                                           i32 height, i32 width, i32 units, i32 window)            \
    { pxl_dependent_launch();                                                                                       \
        unpartition_rows<E>(x, y, rows, height, width, units, window);                                              \
    }

PXL_WINDOWS(b1, u8)
PXL_WINDOWS(b2, u16)
PXL_WINDOWS(b4, u32)
PXL_WINDOWS(b8, u64)
typedef Pack<u32, 4> b16;
PXL_WINDOWS(b16, b16)
