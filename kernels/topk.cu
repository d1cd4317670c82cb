// TopKOp: indices of the K largest per row over the last dim → i32 (rows, K), best first, in ArgMax's order (NaN
// highest, lower index first on ties). Pass t picks the best element ranked strictly below pass t−1's pick, so no
// "already taken" set is needed: K block reductions over the row. Meant for beam-search sized K (the row is re-read K
// times). Launch: grid = rows, block = (32·k, 1, 1) with k in 1..32.
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void topk_row(const T* __restrict__ x, i32* __restrict__ y, i32 cols, i32 k)
{
    __shared__ float values[32];
    __shared__ i32 indices[32];
    x += (i64)blockIdx.x * cols;
    y += (i64)blockIdx.x * k;
    float previous = 0.0f;
    i32 previous_at = -1;
    for (i32 t = 0; t < k; t++)
    {
        float best = 0.0f;
        i32 at = -1;
        for (i32 c = threadIdx.x; c < cols; c += blockDim.x) offer_below(to_float(x[c]), c, previous, previous_at, best, at);
        block_best(best, at, values, indices);
        if (threadIdx.x == 0) y[t] = at;
        previous = best;
        previous_at = at;
    }
}

#define PXL_TOPK(suffix, T) \
    extern "C" __global__ void __launch_bounds__(1024) topk_##suffix(const T* x, i32* y, i32 cols, i32 k) { pxl_dependent_launch(); topk_row<T>(x, y, cols, k); }

PXL_TOPK(f32, float)
PXL_TOPK(bf16, bf16)
PXL_TOPK(f16, half)
