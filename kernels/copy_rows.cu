// Row copies for SliceOp and ConcatOp: dst row r (run units, contiguous) = src at
//   src_off + (r / count)·src_outer + (r % count)·src_step,   written at dst_off + r·dst_row.
// One division per row, none per element. A "unit" is 1, 2, 4, 8 or 16 bytes (copy_rows_b1 … b16): the host picks the
// widest unit that divides every offset, stride and run in bytes and both base pointers, so a row of whole 16-byte
// vectors moves as such. Launch: grid (x over a row's units, y over rows — both grid-stride), any block.
#include "prelude.cuh"

template <typename E>
PXL_DEVICE void copy_rows(const E* __restrict__ src, E* __restrict__ dst, i64 rows, i64 run, i32 count, i64 src_outer,
                          i64 src_step, i64 src_off, i64 dst_row, i64 dst_off)
{
    for (i64 r = blockIdx.y; r < rows; r += gridDim.y)
    {
        const E* from = src + src_off + (r / count) * src_outer + (r % count) * src_step;
        E* to = dst + dst_off + r * dst_row;
        for (i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x; c < run; c += (i64)gridDim.x * blockDim.x) to[c] = from[c];
    }
}

#define PXL_COPY_ROWS(suffix, E)                                                                                   \
    extern "C" __global__ void copy_rows_##suffix(const E* __restrict__ src, E* __restrict__ dst, i64 rows, i64 run, \
                                                  i32 count, i64 src_outer, i64 src_step, i64 src_off, i64 dst_row,  \
                                                  i64 dst_off)                                                     \
    { pxl_dependent_launch();                                                                                      \
        copy_rows<E>(src, dst, rows, run, count, src_outer, src_step, src_off, dst_row, dst_off);                  \
    }

PXL_COPY_ROWS(b1, u8)
PXL_COPY_ROWS(b2, u16)
PXL_COPY_ROWS(b4, u32)
PXL_COPY_ROWS(b8, u64)
typedef Pack<u32, 4> b16;
PXL_COPY_ROWS(b16, b16)
