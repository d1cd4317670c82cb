// PermuteOp: y = x with dims reordered. The host passes y's dims and, per y dim, the element stride of the x dim it
// comes from (rank ≤ 8), after merging dims that stay adjacent and in order. Data movement only, so kernels are per
// element size: permute_b1/b2/b4/b8. 32-bit index math when n < 2^31 (every offset is below n), 64-bit otherwise.
// Launch: any 1-D grid over the elements.
#include "prelude.cuh"

template <typename I, typename E>
PXL_DEVICE void permute_loop(const E* __restrict__ x, E* __restrict__ y, I n, i32 rank, const Dims8& dims, const Dims8& strides)
{
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x)
    {
        I rest = i, from = 0;
        for (i32 d = rank - 1; d >= 0; d--)
        {
            const I size = (I)dims.v[d];
            from += rest % size * (I)strides.v[d];
            rest /= size;
        }
        y[i] = x[from];
    }
}

#define PXL_PERMUTE(suffix, E)                                                                                     \
    extern "C" __global__ void permute_##suffix(const E* __restrict__ x, E* __restrict__ y, i64 n, i32 rank, Dims8 dims, Dims8 strides) \
    { pxl_dependent_launch();                                                                                      \
        if (n <= 0x7fffffffLL) permute_loop<u32, E>(x, y, (u32)n, rank, dims, strides);                            \
        else permute_loop<i64, E>(x, y, n, rank, dims, strides);                                                   \
    }

PXL_PERMUTE(b1, u8)
PXL_PERMUTE(b2, u16)
PXL_PERMUTE(b4, u32)
PXL_PERMUTE(b8, u64)
