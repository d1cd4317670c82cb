// float16_bits.h: the 16-bit float formats' conversions to and from float, bit for bit as the device does them (round to
// nearest even, subnormals, NaN kept quiet, overflow to infinity). One copy for the whole emulator: emu.h's host forms
// of the kernels' cvt instructions and the fake cuBLAS(Lt)'s loads and stores (gemm_reference.h) both use it.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

inline float pxlemu_bits_to_float(uint32_t bits)
{
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

inline uint32_t pxlemu_float_to_bits(float f)
{
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    return bits;
}

inline float pxlemu_bf16_to_float(uint16_t h) { return pxlemu_bits_to_float((uint32_t)h << 16); }

// Round to nearest even; a NaN stays a (quiet) NaN instead of rounding into infinity.
inline uint16_t pxlemu_float_to_bf16(float f)
{
    const uint32_t bits = pxlemu_float_to_bits(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x0040u);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline float pxlemu_f16_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    if (exponent == 0x1f) return pxlemu_bits_to_float(sign | 0x7f800000u | (mantissa << 13)); // inf, NaN (payload kept)
    if (exponent != 0) return pxlemu_bits_to_float(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
    // Subnormal: mantissa · 2^-24, exact in float.
    const float magnitude = std::ldexp((float)mantissa, -24);
    return sign != 0 ? -magnitude : magnitude;
}

// Round to nearest even, subnormals included; too large for a half (≥ 65520 in magnitude) becomes infinity.
inline uint16_t pxlemu_float_to_f16(float f)
{
    const uint32_t bits = pxlemu_float_to_bits(f);
    const uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);  // NaN → quiet NaN
    if (magnitude >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); // 65520 and up (and inf) → inf
    const uint32_t exponent = magnitude >> 23;                       // biased by 127
    if (exponent < 127 - 14)
    {
        // Below the smallest normal half, 2^-14: the result is round(|f| · 2^24) units of 2^-24 (1024 of them is the
        // smallest normal, which the bit pattern then reads as correctly). Float subnormals are far below half a unit.
        if (exponent == 0) return sign;
        const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u; // |f| = significand · 2^(exponent − 150)
        const uint32_t shift = 126 - exponent;                             // units = significand / 2^shift, shift ≥ 14
        if (shift > 24) return sign;                                       // below 2^-25: rounds to zero
        uint32_t units = significand >> shift;
        const uint32_t rest = significand & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rest > half || (rest == half && (units & 1u) != 0)) units++;
        return (uint16_t)(sign | units);
    }
    // Normal: rebias the exponent (127 → 15), then round the 23-bit mantissa to 10 bits; a carry out of the mantissa
    // correctly bumps the exponent.
    const uint32_t rebased = magnitude - ((127u - 15u) << 23);
    const uint32_t rounded = rebased + 0xfffu + ((rebased >> 13) & 1u);
    return (uint16_t)(sign | (rounded >> 13));
}
