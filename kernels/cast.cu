// CastOp between f32/bf16/f16/i32/i64/u8, like PyTorch's .to() and the CPU backend: floats round to nearest even;
// float → integer truncates toward zero, saturating to the I32/I64 range with NaN → 0, and U8 takes that I64 value
// modulo 256; integer → float goes through fp32; integer → narrower integer wraps. Same-type casts are plain copies
// on the host side and have no kernel. Launch: any 1-D grid. Kernels are named cast_<from>_<to>.
#include "prelude.cuh"

PXL_DEVICE bool is_float(float) { return true; }
PXL_DEVICE bool is_float(bf16) { return true; }
PXL_DEVICE bool is_float(half) { return true; }
PXL_DEVICE bool is_float(i32) { return false; }
PXL_DEVICE bool is_float(i64) { return false; }
PXL_DEVICE bool is_float(u8) { return false; }

PXL_DEVICE float as_float(float v) { return v; }
PXL_DEVICE float as_float(bf16 v) { return to_float(v); }
PXL_DEVICE float as_float(half v) { return to_float(v); }
PXL_DEVICE float as_float(i32 v) { return (float)v; }
PXL_DEVICE float as_float(i64 v) { return (float)v; }
PXL_DEVICE float as_float(u8 v) { return (float)v; }

PXL_DEVICE i64 as_int(i32 v) { return v; }
PXL_DEVICE i64 as_int(i64 v) { return v; }
PXL_DEVICE i64 as_int(u8 v) { return v; }
PXL_DEVICE i64 as_int(float) { return 0; }
PXL_DEVICE i64 as_int(bf16) { return 0; }
PXL_DEVICE i64 as_int(half) { return 0; }

PXL_DEVICE i64 saturate_i64(float v)
{
    if (v != v) return 0;
    if (v >= 9.2233720368547758e18f) return 0x7fffffffffffffffLL;
    if (v <= -9.2233720368547758e18f) return (i64)0x8000000000000000ULL;
    return (i64)v;
}

PXL_DEVICE i32 saturate_i32(float v)
{
    if (v != v) return 0;
    if (v >= 2147483648.0f) return 0x7fffffff;
    if (v <= -2147483648.0f) return (i32)0x80000000u;
    return (i32)v;
}

template <typename To> PXL_DEVICE To from_int(i64 v);
template <> PXL_DEVICE float from_int<float>(i64 v) { return (float)v; }
template <> PXL_DEVICE bf16 from_int<bf16>(i64 v) { return from_float<bf16>((float)v); }
template <> PXL_DEVICE half from_int<half>(i64 v) { return from_float<half>((float)v); }
template <> PXL_DEVICE i32 from_int<i32>(i64 v) { return (i32)(u32)(u64)v; }
template <> PXL_DEVICE i64 from_int<i64>(i64 v) { return v; }
template <> PXL_DEVICE u8 from_int<u8>(i64 v) { return (u8)(u64)v; }

template <typename To> PXL_DEVICE To from_float_value(float v);
template <> PXL_DEVICE float from_float_value<float>(float v) { return v; }
template <> PXL_DEVICE bf16 from_float_value<bf16>(float v) { return from_float<bf16>(v); }
template <> PXL_DEVICE half from_float_value<half>(float v) { return from_float<half>(v); }
template <> PXL_DEVICE i32 from_float_value<i32>(float v) { return saturate_i32(v); }
template <> PXL_DEVICE i64 from_float_value<i64>(float v) { return saturate_i64(v); }
template <> PXL_DEVICE u8 from_float_value<u8>(float v) { return (u8)(u64)saturate_i64(v); }

template <typename From, typename To>
PXL_DEVICE void cast_all(const From* __restrict__ x, To* __restrict__ y, i64 n)
{
    PXL_GRID_STRIDE_LOOP(i, n)
    {
        const From v = x[i];
        y[i] = is_float(v) ? from_float_value<To>(as_float(v)) : from_int<To>(as_int(v));
    }
}

#define PXL_CAST(fs, F, ts, T) \
    extern "C" __global__ void cast_##fs##_##ts(const F* x, T* y, i64 n) { pxl_dependent_launch(); cast_all<F, T>(x, y, n); }

#define PXL_CAST_FROM(fs, F)                                          \
    PXL_CAST(fs, F, f32, float) PXL_CAST(fs, F, bf16, bf16) PXL_CAST(fs, F, f16, half) \
    PXL_CAST(fs, F, i32, i32) PXL_CAST(fs, F, i64, i64) PXL_CAST(fs, F, u8, u8)

PXL_CAST_FROM(f32, float)
PXL_CAST_FROM(bf16, bf16)
PXL_CAST_FROM(f16, half)
PXL_CAST_FROM(i32, i32)
PXL_CAST_FROM(i64, i64)
PXL_CAST_FROM(u8, u8)
