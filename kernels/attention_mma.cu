// AttentionOp on tensor cores for the vision encoders' long sequences (EVA02's 730 tokens): the block of
// attention_mma.cuh with rows at strides. Semantics as attention.cu, restricted to what the encoders use: no mask, not
// causal; bias none, a full (…, Lq, Lk) bias read in place, or SAM's decomposed rel-pos terms (attention_bias with a key
// grid), read once per block into shared memory as f32. Rows of q, k and v are q_row/k_row/v_row elements apart
// (3·H·D for a packed q | k | v); k and v rows and bases 16-byte aligned (cp.async), q 4-byte; out (B, Lq, H·D) is
// contiguous.
// Launch: grid = (ceil(Lq / (16·MMA_WARPS)), H, B), block = (32·MMA_WARPS, 1, 1), dynamic shared memory as the header says.
#include "attention_mma.cuh"

#define PXL_ATTENTION_MMA(D, suffix, T)                                                                               \
    extern "C" __global__ void __launch_bounds__(MMA_THREADS) attention_mma_d##D##_##suffix(                          \
        const T* q, const T* k, const T* v, const T* bias, T* y, i32 heads, i32 lq, i32 lk, i32 q_row, i32 k_row,     \
        i32 v_row, float scale, Dims8 bias_strides, i32 term_pitch)                                                   \
    { pxl_dependent_launch();                                                                                         \
        const i64 b = blockIdx.z;                                                                                     \
        const T* bias_head = bias ? bias + b * bias_strides.v[0] + blockIdx.y * bias_strides.v[1] : nullptr;          \
        const bool grid = bias && bias_strides.v[4] != 0;                                                             \
        const MmaStridedRows<T, D> rows{q, k, v, bias_head, y, b, bias_strides.v[2], (i32)blockIdx.y, heads, lq, lk,  \
                                        q_row, k_row, v_row, grid ? (i32)bias_strides.v[4] : 0, (i32)bias_strides.v[5]}; \
        attention_mma_core<T, D>(rows, lq, lk, scale, grid ? nullptr : bias_head, bias_strides, term_pitch);          \
    }

PXL_ATTENTION_MMA(32, bf16, bf16)
PXL_ATTENTION_MMA(64, bf16, bf16)
PXL_ATTENTION_MMA(80, bf16, bf16)
PXL_ATTENTION_MMA(96, bf16, bf16)
PXL_ATTENTION_MMA(128, bf16, bf16)
PXL_ATTENTION_MMA(32, f16, half)
PXL_ATTENTION_MMA(64, f16, half)
PXL_ATTENTION_MMA(80, f16, half)
PXL_ATTENTION_MMA(96, f16, half)
PXL_ATTENTION_MMA(128, f16, half)
