// MlpOp (the point head: [LayerNorm] → Linear → act → … → Linear) over R ≤ MLP_MAX_ROWS rows in one launch, instead of a
// LayerNorm, Depth Linears and Depth − 1 activations. Blocks take tickets (handoff.cuh), dealt layer by layer: layer 0's
// column blocks first, then layer 1's, and so on. A block of layer l > 0 waits until every block of layer l − 1 has
// signalled, then stages that layer's R output rows in shared memory; a block of layer 0 stages x, layer-normed by
// itself (two passes, as layer_norm.cu). Each warp then computes one output column for every row: Σ w·x in fp32,
// + bias, rounded to T; then the activation, rounded to T again, as the steps round each op's output.
// act: 0 none, 1 relu, 2 gelu (erf), 3 gelu_tanh, 4 silu. layers.out[l]: layer l's R × n_l outputs (work for l < Depth − 1, y
// for the last).
// Launch: grid = Σ ceil(n_l / MLP_WARPS), block = MLP_THREADS, dynamic shared memory = R · max(k_l) · sizeof(T);
// counters: Depth + 2 ints (ticket, one per layer, finished blocks), zero before the launch, left zero by the last block.
#include "handoff.cuh"

#define MLP_WARPS 8
#define MLP_THREADS (MLP_WARPS * 32)
#define MLP_MAX_ROWS 32
#define MLP_MAX_DEPTH 8

// Every layer's tensors and width by value; matches the backend's MlpLayerTable.
struct MlpLayers
{
    u64 weight[MLP_MAX_DEPTH], bias[MLP_MAX_DEPTH], out[MLP_MAX_DEPTH];
    i32 n[MLP_MAX_DEPTH];
};

PXL_DEVICE i32 mlp_blocks(i32 n) { return (n + MLP_WARPS - 1) / MLP_WARPS; }

PXL_DEVICE float mlp_activation(float v, i32 act)
{
    switch (act)
    {
    case 1: return relu(v);
    case 2: return gelu(v);
    case 3: return gelu_tanh(v);
    case 4: return silu(v);
    default: return v;
    }
}

// Layer 0's input: each warp normalises rows warp, warp + MLP_WARPS, … of x (or copies them without a norm).
template <typename T>
PXL_DEVICE void mlp_stage_input(const T* __restrict__ x, const T* __restrict__ norm_weight, const T* __restrict__ norm_bias,
                                T* xs, i32 rows, i32 d, float eps)
{
    const i32 warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (i32 r = warp; r < rows; r += MLP_WARPS)
    {
        const T* row = x + (i64)r * d;
        if (!norm_weight)
        {
            for (i32 c = lane; c < d; c += 32) xs[r * d + c] = row[c];
            continue;
        }
        float sum = 0.0f;
        for (i32 c = lane; c < d; c += 32) sum += to_float(row[c]);
        const float mean = warp_sum(sum) / (float)d;
        float squares = 0.0f;
        for (i32 c = lane; c < d; c += 32)
        {
            const float v = to_float(row[c]) - mean;
            squares += v * v;
        }
        const float inv_std = rsqrtf(warp_sum(squares) / (float)d + eps);
        for (i32 c = lane; c < d; c += 32)
            xs[r * d + c] = from_float<T>((to_float(row[c]) - mean) * inv_std * to_float(norm_weight[c]) + to_float(norm_bias[c]));
    }
}

template <typename T>
PXL_DEVICE void mlp_block(const T* x, const T* norm_weight, const T* norm_bias, const MlpLayers& layers, i32* counters, i32* error,
                          i32 rows, i32 d, i32 depth, i32 act, float eps)
{
    extern __shared__ __align__(16) u8 mlp_shared[];
    __shared__ i32 ticket_shared;
    if (threadIdx.x == 0) ticket_shared = atomicAdd(counters, 1);
    __syncthreads();
    const i32 ticket = ticket_shared;
    i32 layer = 0, first = 0;
    while (layer < depth - 1 && ticket >= first + mlp_blocks(layers.n[layer])) first += mlp_blocks(layers.n[layer++]);
    const i32 k = layer == 0 ? d : layers.n[layer - 1], n = layers.n[layer];
    T* xs = reinterpret_cast<T*>(mlp_shared);
    if (layer == 0)
        mlp_stage_input(x, norm_weight, norm_bias, xs, rows, d, eps);
    else
    {
        dl_wait(counters + layer, mlp_blocks(k), error);
        const T* previous = reinterpret_cast<const T*>(layers.out[layer - 1]);
        for (i32 i = threadIdx.x; i < rows * k; i += MLP_THREADS) xs[i] = previous[i];
    }
    __syncthreads();

    const i32 warp = threadIdx.x >> 5, lane = threadIdx.x & 31, col = (ticket - first) * MLP_WARPS + warp;
    if (col < n)
    {
        const T* w = reinterpret_cast<const T*>(layers.weight[layer]) + (i64)col * k;
        float acc[MLP_MAX_ROWS];
#pragma unroll
        for (int r = 0; r < MLP_MAX_ROWS; r++) acc[r] = 0.0f;
        for (i32 i = lane; i < k; i += 32)
        {
            const float wf = to_float(w[i]);
#pragma unroll
            for (int r = 0; r < MLP_MAX_ROWS; r++)
                if (r < rows) acc[r] = fmaf(wf, to_float(xs[r * k + i]), acc[r]);
        }
        const float b = to_float(reinterpret_cast<const T*>(layers.bias[layer])[col]);
        T* out = reinterpret_cast<T*>(layers.out[layer]);
        const bool last = layer == depth - 1;
#pragma unroll
        for (int r = 0; r < MLP_MAX_ROWS; r++)
        {
            if (r >= rows) break;
            const float sum = warp_sum(acc[r]);
            if (lane == 0)
            {
                T v = from_float<T>(sum + b);
                if (!last && act != 0) v = from_float<T>(mlp_activation(to_float(v), act));
                out[(i64)r * n + col] = v;
            }
        }
    }
    dl_signal(counters + 1 + layer);
    i32 total = 0;
    for (i32 l = 0; l < depth; l++) total += mlp_blocks(layers.n[l]);
    dl_finish_counters(counters, depth + 2, total);
}

#define PXL_MLP(suffix, T)                                                                                            \
    extern "C" __global__ void __launch_bounds__(MLP_THREADS) mlp_##suffix(                                           \
        const T* x, const T* norm_weight, const T* norm_bias, MlpLayers layers, i32* counters, i32* error, i32 rows,  \
        i32 d, i32 depth, i32 act, float eps)                                                                         \
    { pxl_dependent_launch();                                                                                         \
        mlp_block<T>(x, norm_weight, norm_bias, layers, counters, error, rows, d, depth, act, eps);                   \
    }

PXL_MLP(f32, float)
PXL_MLP(bf16, bf16)
PXL_MLP(f16, half)
