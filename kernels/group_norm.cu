// GroupNormOp on channels-last x (B, positions, C): statistics per (batch, group) over every position and the group's
// C/groups channels, two passes in fp32, then per-channel weight and bias.
// Launch: grid = B·groups, block = (32·k, 1, 1) with k in 1..32.
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void group_norm_block(const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
                                 T* __restrict__ y, i64 positions, i32 channels, i32 groups, float eps)
{
    __shared__ float scratch[32];
    const i32 per_group = channels / groups, g = blockIdx.x % groups;
    const i64 b = blockIdx.x / groups, count = positions * per_group;
    const i64 base = b * positions * channels + (i64)g * per_group;
#define PXL_GN_AT(e) (base + (e) / per_group * channels + (e) % per_group)
    float sum = 0.0f;
    for (i64 e = threadIdx.x; e < count; e += blockDim.x) sum += to_float(x[PXL_GN_AT(e)]);
    const float mean = block_sum(sum, scratch) / (float)count;
    float squares = 0.0f;
    for (i64 e = threadIdx.x; e < count; e += blockDim.x)
    {
        const float d = to_float(x[PXL_GN_AT(e)]) - mean;
        squares += d * d;
    }
    const float inv_std = rsqrtf(block_sum(squares, scratch) / (float)count + eps);
    for (i64 e = threadIdx.x; e < count; e += blockDim.x)
    {
        const i32 c = g * per_group + (i32)(e % per_group);
        const i64 at = PXL_GN_AT(e);
        y[at] = from_float<T>((to_float(x[at]) - mean) * inv_std * to_float(weight[c]) + to_float(bias[c]));
    }
#undef PXL_GN_AT
}

#define PXL_GROUP_NORM(suffix, T)                                                                                \
    extern "C" __global__ void __launch_bounds__(1024) group_norm_##suffix(const T* x, const T* weight, const T* bias, T* y, \
                                                                           i64 positions, i32 channels, i32 groups, float eps) \
    { pxl_dependent_launch();                                                                                    \
        group_norm_block<T>(x, weight, bias, y, positions, channels, groups, eps);                               \
    }

PXL_GROUP_NORM(f32, float)
PXL_GROUP_NORM(bf16, bf16)
PXL_GROUP_NORM(f16, half)
