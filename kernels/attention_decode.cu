// AttentionOp for decode steps (a few query rows, Lq ≤ 4): the same semantics as attention.cu, parallelised over keys
// instead of query rows. attention.cu gives each query row one warp that walks every key tile in turn, so at Lq = 1
// three of its four warps idle and the one left pays a full tile latency per 32 keys; here a whole block serves one
// (query row, head, batch) and every phase spreads the keys over all of its threads.
// Phase 1: groups of DEC_KEY_LANES lanes score one key each (lanes split the head dim, shuffle reduce) into shared
// memory: score = scale·q·k [+ bias] [+ mask_bias once where the mask is 0 or causality hides the key; causal query i
// sees keys j ≤ i + (Lk − Lq)]. Phase 2: block max, p = exp(score − max), block sum; all scores −∞ → a NaN row.
// Phase 3: warps split the keys, lanes the value dims (d = lane + 32·r), partials reduced through shared memory.
// bias (stored like q) and mask (u8) are read through broadcast strides, and q, k, v through their row strides (packed
// q | k | v in place), exactly as attention.cu reads them.
// staged (PIXELLLM_STAGED_ATTENTION, where everything fits): the block first requests all its key and value rows
// (cp.async into shared memory), biases and mask bytes at once, so a decode step's short attention waits for one round
// trip instead of one per phase (q, the keys, the biases after the dot, the values two keys a warp at a time); the
// arithmetic and its order are the same, so are the results.
// Launch: grid = (Lq, H, B), block = (32·DEC_WARPS, 1, 1); D, Dv ≤ DEC_MAX_D; 1 ≤ Lk ≤ DEC_MAX_KEYS (Lk = 0 is the host's).
#include "attention_row.cuh"

#define DEC_WARPS 8
#define DEC_KEY_LANES PXL_ROW_KEY_LANES
#define DEC_MAX_D PXL_ROW_MAX_D
#define DEC_MAX_KEYS 8192

// Staged layout in `scores` (floats): the scores [0, lk), the staged bias [lk, 2·lk), the staged mask as 1 = hidden
// [2·lk, 3·lk), then, from the next 16-byte boundary, the key rows (lk × dim) and the value rows (lk × vdim) of T. The
// host stages only when all of it fits DEC_MAX_KEYS floats (CudaOps.StagesDecodeAttention).
PXL_DEVICE i32 dec_staged_floats(i32 lk) { return (3 * lk + 3) / 4 * 4; }

// cp.async of `rows` rows of `width` elements, `row` elements apart in global memory, packed into `stage`.
template <typename T>
PXL_DEVICE void dec_stage_rows(T* stage, const T* rows_at, i32 rows, i32 width, i64 row)
{
    const i32 vectors = width * (i32)sizeof(T) / 16;
    for (i32 i = threadIdx.x; i < rows * vectors; i += blockDim.x)
    {
        const i32 j = i / vectors, c = (i - j * vectors) * (16 / (i32)sizeof(T));
        pxl_copy_async16(stage + (i64)j * width + c, rows_at + j * row + c);
    }
}

// One scoring pass's loads for key j: this lane's elements ahead (row_key_ahead) and, for lane 0 of its group, the
// bias and whether the mask hides it, all issued before any is used.
template <typename T>
PXL_DEVICE void dec_load_pass(float (&element)[PXL_ROW_KEY_AHEAD], float& extra, bool& hidden, const T* keys,
                              i64 key_row, i32 lk, i32 dim, i32 sub, i32 j, const T* bias_row, const Dims8& bias_strides,
                              const u8* mask_row, const Dims8& mask_strides, i32 staged, const float* staged_bias,
                              const float* staged_hidden)
{
    row_key_ahead(element, keys + min(j, lk - 1) * key_row, j < lk, dim, sub);
    extra = 0.0f;
    hidden = false;
    if (j < lk && sub == 0)
    {
        if (bias_row) extra = staged ? staged_bias[j] : attention_bias(bias_row, j, bias_strides);
        hidden = staged ? staged_hidden[j] != 0.0f : mask_row && mask_row[j * mask_strides.v[3]] == 0;
    }
}

template <typename T>
PXL_DEVICE void attention_decode_block(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                       const T* __restrict__ bias, const u8* __restrict__ mask, T* __restrict__ y, i32 heads,
                                       i32 lq, i32 lk, i32 dim, i32 vdim, i32 q_row, i32 k_row, i32 v_row, float scale,
                                       float mask_bias, i32 causal, const Dims8& bias_strides, const Dims8& mask_strides,
                                       i32 staged)
{
    __shared__ __align__(16) float scores[DEC_MAX_KEYS];
    __shared__ float partial[DEC_WARPS][PXL_ROW_MAX_D];
    __shared__ float query[DEC_MAX_D];
    __shared__ float scratch[32];
    const i32 tid = threadIdx.x;
    const i32 qi = blockIdx.x, h = blockIdx.y;
    const i64 b = blockIdx.z;
    T* out = y + ((b * lq + qi) * heads + h) * vdim;

    const T* bias_row = bias ? bias + b * bias_strides.v[0] + h * bias_strides.v[1] + (i64)qi * bias_strides.v[2] : nullptr;
    const u8* mask_row = mask ? mask + b * mask_strides.v[0] + (i64)qi * mask_strides.v[2] : nullptr;
    // Staged: every key and value row, bias and mask of this (b, h) requested at once, before the first barrier.
    float* staged_bias = scores + lk;
    float* staged_hidden = scores + 2 * lk;
    const T* keys = k + b * lk * k_row + h * dim; // key j at keys + j·k_row, value j at values + j·v_row
    const T* values = v + b * lk * v_row + h * vdim;
    i64 key_row = k_row, value_row = v_row;
    if (staged)
    {
        T* key_stage = reinterpret_cast<T*>(scores + dec_staged_floats(lk));
        T* value_stage = key_stage + (i64)lk * dim;
        dec_stage_rows(key_stage, keys, lk, dim, key_row);
        dec_stage_rows(value_stage, values, lk, vdim, value_row);
        pxl_copy_async_commit();
        for (i32 j = tid; j < lk; j += blockDim.x)
        {
            staged_bias[j] = bias_row ? attention_bias(bias_row, j, bias_strides) : 0.0f;
            staged_hidden[j] = mask_row && mask_row[j * mask_strides.v[3]] == 0 ? 1.0f : 0.0f;
        }
        keys = key_stage;
        values = value_stage;
        key_row = dim;
        value_row = vdim;
    }
    // Phase 1: scores. Every lane runs the same number of passes, so the group shuffles stay converged. A pass's loads
    // (the key's elements, its bias and mask) are all issued before its first product, the first pass's even before q's
    // barrier (unless staged: its keys are in shared memory only after it), so a pass waits one memory round trip; the
    // products and sums run in the same order as ever.
    const i32 visible = causal ? min(max(qi + lk - lq + 1, 0), lk) : lk;
    const i32 sub = tid % DEC_KEY_LANES, group = tid / DEC_KEY_LANES, groups = blockDim.x / DEC_KEY_LANES;
    float element[PXL_ROW_KEY_AHEAD], extra = 0.0f;
    bool hidden = false;
    if (!staged) dec_load_pass<T>(element, extra, hidden, keys, key_row, lk, dim, sub, group, bias_row, bias_strides, mask_row,
                            mask_strides, staged, staged_bias, staged_hidden);
    for (i32 d = tid; d < dim; d += blockDim.x) query[d] = to_float(q[(b * lq + qi) * q_row + h * dim + d]);
    if (staged) pxl_copy_async_wait_all();
    __syncthreads();

    for (i32 first = 0; first < lk; first += groups)
    {
        if (staged || first > 0) dec_load_pass<T>(element, extra, hidden, keys, key_row, lk, dim, sub, first + group, bias_row, bias_strides, mask_row,
                            mask_strides, staged, staged_bias, staged_hidden);
        const i32 j = first + group;
        float dot = row_key_dot(element, query, keys + min(j, lk - 1) * key_row, j < lk, dim, sub);
#pragma unroll
        for (int offset = DEC_KEY_LANES / 2; offset > 0; offset >>= 1) dot += __shfl_xor_sync(PXL_FULL_MASK, dot, offset);
        if (j < lk && sub == 0)
        {
            float score = scale * dot;
            if (bias_row) score += extra;
            if (j >= visible || hidden) score += mask_bias;
            scores[j] = score;
        }
    }
    __syncthreads();

    // Phases 2 and 3: the softmax in place, then p·V.
    attention_row_values(scores, lk, values, value_row, vdim, partial, scratch, out, [](const T* p) { return to_float(*p); });
}

#define PXL_ATTENTION_DECODE(suffix, T)                                                                              \
    extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) attention_decode_##suffix(                          \
        const T* q, const T* k, const T* v, const T* bias, const u8* mask, T* y, i32 heads, i32 lq, i32 lk, i32 dim,  \
        i32 vdim, i32 q_row, i32 k_row, i32 v_row, float scale, float mask_bias, i32 causal, Dims8 bias_strides,      \
        Dims8 mask_strides, i32 staged)                                                                              \
    { pxl_dependent_launch();                                                                                        \
        attention_decode_block<T>(q, k, v, bias, mask, y, heads, lq, lk, dim, vdim, q_row, k_row, v_row, scale,       \
                                  mask_bias, causal, bias_strides, mask_strides, staged);                            \
    }

PXL_ATTENTION_DECODE(f32, float)
PXL_ATTENTION_DECODE(bf16, bf16)
PXL_ATTENTION_DECODE(f16, half)
