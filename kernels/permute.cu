// PermuteOp: y = x with dims reordered. The host passes y's dims and, per y dim, the element stride of the x dim it
// comes from (rank ≤ 8). Data movement only, so kernels are per element size: permute_b1/b2/b4/b8.
// Launch: any 1-D grid over the elements.
#include "prelude.cuh"

#define PXL_PERMUTE(suffix, E)                                                                                     \
    extern "C" __global__ void permute_##suffix(const E* __restrict__ x, E* __restrict__ y, i64 n, i32 rank, Dims8 dims, Dims8 strides) \
    {                                                                                                              \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                                 \
        {                                                                                                          \
            i64 rest = i, from = 0;                                                                                \
            for (i32 d = rank - 1; d >= 0; d--)                                                                    \
            {                                                                                                      \
                from += rest % dims.v[d] * strides.v[d];                                                           \
                rest /= dims.v[d];                                                                                 \
            }                                                                                                      \
            y[i] = x[from];                                                                                        \
        }                                                                                                          \
    }

PXL_PERMUTE(b1, u8)
PXL_PERMUTE(b2, u16)
PXL_PERMUTE(b4, u32)
PXL_PERMUTE(b8, u64)
