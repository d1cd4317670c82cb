// RopeOp (EVA02 2-D rotary, interleaved pairs): x (B, L, width), sin/cos (L − start, D); for each pair (2i, 2i+1) of a
// head among the first `rotated` columns (H·D: the whole row, or q and k of a packed q | k | v row), y = x·cos +
// (−x₂ᵢ₊₁, x₂ᵢ)·sin; the other columns, and tokens before `start` (cls), pass through. One thread per pair (widths even).
// Launch: any 1-D grid over B·L·H·D/2.
#include "rope.cuh"

template <typename T>
PXL_DEVICE void rope_pair(const T* __restrict__ x, const T* __restrict__ sin, const T* __restrict__ cos, T* __restrict__ y,
                          i64 pair, i32 tokens, i32 width, i32 rotated, i32 head_dim, i32 start)
{
    const i64 row = pair / (width / 2);
    const i32 c = 2 * (i32)(pair % (width / 2));
    const i32 token = (i32)(row % tokens);
    const i64 at = row * width + c;
    if (token < start || c >= rotated)
    {
        y[at] = x[at];
        y[at + 1] = x[at + 1];
        return;
    }
    const i64 t = (i64)(token - start) * head_dim + c % head_dim;
    float ra, rb;
    rope_rotate(to_float(x[at]), to_float(x[at + 1]), sin + t, cos + t, ra, rb);
    y[at] = from_float<T>(ra);
    y[at + 1] = from_float<T>(rb);
}

#define PXL_ROPE(suffix, T)                                                                                       \
    extern "C" __global__ void rope_##suffix(const T* x, const T* sin, const T* cos, T* y, i64 pairs, i32 tokens,  \
                                             i32 width, i32 rotated, i32 head_dim, i32 start)                     \
    { pxl_dependent_launch();                                                                                     \
        PXL_GRID_STRIDE_LOOP(p, pairs) rope_pair<T>(x, sin, cos, y, p, tokens, width, rotated, head_dim, start); \
    }

PXL_ROPE(f32, float)
PXL_ROPE(bf16, bf16)
PXL_ROPE(f16, half)
