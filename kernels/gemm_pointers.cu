// The device arrays of matrix addresses a pointer-array batched GEMM reads (cublasGemmBatchedEx, GemmCall.PointerArrays):
// AttentionOp's cuBLAS path multiplies one (query, key) or (probability, value) matrix pair per (batch element z, head h),
// and in a token-major layout no single stride walks both z and h, so each address is computed:
// out[o·n + t] = bases[o] + z·batch_strides[o] + h·head_strides[o] (bytes) for t = z·heads + h < n = count·heads and
// operand o < operands ≤ 8. Launch: grid = ceil(n / 256), block = 256.
#include "prelude.cuh"

extern "C" __global__ void __launch_bounds__(256) gemm_pointers(u64* out, Dims8 bases, Dims8 batch_strides, Dims8 head_strides,
                                                               i32 operands, i32 heads, i32 count)
{
    pxl_dependent_launch();
    const i32 n = heads * count, t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n) return;
    const i64 z = t / heads, h = t % heads;
#pragma unroll
    for (i32 o = 0; o < PXL_MAX_RANK; o++) // unrolled: constant indices keep the Dims8 parameters out of local memory
        if (o < operands) out[(i64)o * n + t] = (u64)(bases.v[o] + z * batch_strides.v[o] + h * head_strides.v[o]);
}
