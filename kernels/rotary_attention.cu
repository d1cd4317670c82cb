// RotaryAttentionOp on tensor cores (EVA02's blocks): the block of attention_mma.cuh over packed q | k | v rows (3·C
// elements apart) that applies RoPE as it loads, so the Rope step's rotated copy of every row is never written. q pairs
// are rotated in registers as they become A fragments; each K tile is rotated in shared memory by the threads that
// copied it, once their cp.async has landed and before the barrier that shows it to the warps. Tokens before `start`
// (cls) pass unrotated, v is never rotated. Rotated values are rounded to T, as the Rope step stores them, with
// rope.cuh's arithmetic: the same scores as the steps give. qkv 16-byte aligned (cp.async), tables 2-byte.
// Launch: grid = (ceil(L / (16·MMA_WARPS)), H, B), block = (32·MMA_WARPS, 1, 1), dynamic shared memory as the header says
// (no terms).
#include "attention_mma.cuh"
#include "rope.cuh"

template <typename T, int D> struct MmaRotaryRows : MmaStridedRows<T, D>
{
    const T *sin, *cos;
    i32 start;

    PXL_DEVICE u32 query_pair(const T* row, i32 r, i32 col) const
    {
        if (r < start) return mma_pair(row + col);
        const i64 at = (i64)(r - start) * D + col;
        float a, b;
        rope_rotate(to_float(row[col]), to_float(row[col + 1]), sin + at, cos + at, a, b);
        return mma_pack<T>(to_float(from_float<T>(a)), to_float(from_float<T>(b)));
    }

    // The chunks this thread copied into the tile (mma_stage's assignment: chunk i = (key, 8 dims) for i ≡ tid).
    PXL_DEVICE void rotate_keys(T* stage, i32 first, i32 lk) const
    {
        constexpr int P = D + 8, CHUNKS = D / 8;
        for (i32 i = threadIdx.x; i < MMA_KEYS * CHUNKS; i += MMA_THREADS)
        {
            const i32 key = i / CHUNKS, c = (i - key * CHUNKS) * 8, j = first + key;
            if (j >= lk || j < start) continue;
            T* e = stage + key * P + c;
            const i64 at = (i64)(j - start) * D + c;
#pragma unroll
            for (int p = 0; p < 8; p += 2)
            {
                float a, b;
                rope_rotate(to_float(e[p]), to_float(e[p + 1]), sin + at + p, cos + at + p, a, b);
                e[p] = from_float<T>(a);
                e[p + 1] = from_float<T>(b);
            }
        }
    }
};

#define PXL_ROTARY_ATTENTION(D, suffix, T)                                                                            \
    extern "C" __global__ void __launch_bounds__(MMA_THREADS) rotary_attention_d##D##_##suffix(                       \
        const T* qkv, const T* sin, const T* cos, T* y, i32 heads, i32 tokens, float scale, i32 start)                \
    { pxl_dependent_launch();                                                                                         \
        const i32 c = heads * D, row = 3 * c;                                                                         \
        const MmaRotaryRows<T, D> rows{{qkv, qkv + c, qkv + 2 * c, nullptr, y, (i64)blockIdx.z, 0, (i32)blockIdx.y,   \
                                        heads, tokens, tokens, row, row, row, 0, 1}, sin, cos, start};               \
        attention_mma_core<T, D>(rows, tokens, tokens, scale, (const T*)nullptr, Dims8{}, 0);                         \
    }

PXL_ROTARY_ATTENTION(32, bf16, bf16)
PXL_ROTARY_ATTENTION(64, bf16, bf16)
PXL_ROTARY_ATTENTION(80, bf16, bf16)
PXL_ROTARY_ATTENTION(96, bf16, bf16)
PXL_ROTARY_ATTENTION(128, bf16, bf16)
PXL_ROTARY_ATTENTION(32, f16, half)
PXL_ROTARY_ATTENTION(64, f16, half)
PXL_ROTARY_ATTENTION(80, f16, half)
PXL_ROTARY_ATTENTION(96, f16, half)
PXL_ROTARY_ATTENTION(128, f16, half)
