// One interleaved RoPE pair, the arithmetic rope.cu and rotary_attention.cu share (so the fused kernel rotates exactly as
// the op it replaces): (a, b) → (a·cos₀ − b·sin₀, b·cos₁ + a·sin₁), with sin/cos pointing at the pair's first dim.
#pragma once
#include "prelude.cuh"

template <typename T>
PXL_DEVICE void rope_rotate(float a, float b, const T* __restrict__ sin, const T* __restrict__ cos, float& ra, float& rb)
{
    ra = a * to_float(cos[0]) - b * to_float(sin[0]);
    rb = b * to_float(cos[1]) + a * to_float(sin[1]);
}
