// Elementwise a ∘ b with NumPy broadcasting (BinaryOp). The host passes the output dims and a's and b's element
// strides over them (0 on broadcast dims), rank ≤ 8. kind: 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min (BinaryKind).
// Floats compute in fp32 and Max/Min propagate NaN (torch.maximum); integers wrap on overflow, Div truncates toward
// zero and a zero divisor raises PXL_ERR_DIV_ZERO (the element is left 0). Launch: any 1-D grid.
#include "prelude.cuh"

PXL_DEVICE float apply_float(i32 kind, float a, float b)
{
    switch (kind)
    {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return (a != a || b != b) ? pxl_nan() : fmaxf(a, b);
    default: return (a != a || b != b) ? pxl_nan() : fminf(a, b);
    }
}

// Add/Sub/Mul in unsigned arithmetic: wrap-around is defined there, signed overflow is not.
template <typename I, typename U>
PXL_DEVICE I apply_int(i32 kind, I a, I b, i32* error)
{
    switch (kind)
    {
    case 0: return (I)((U)a + (U)b);
    case 1: return (I)((U)a - (U)b);
    case 2: return (I)((U)a * (U)b);
    case 3:
        if (b == 0) { pxl_fail(error, PXL_ERR_DIV_ZERO); return 0; }
        return (b == (I)-1) ? (I)((U)0 - (U)a) : (I)(a / b);
    case 4: return a > b ? a : b;
    default: return a < b ? a : b;
    }
}

PXL_DEVICE void broadcast_offsets(i64 i, i32 rank, const Dims8& dims, const Dims8& sa, const Dims8& sb, i64& oa, i64& ob)
{
    oa = 0;
    ob = 0;
    for (i32 d = rank - 1; d >= 0; d--)
    {
        const i64 c = i % dims.v[d];
        i /= dims.v[d];
        oa += c * sa.v[d];
        ob += c * sb.v[d];
    }
}

#define PXL_BINARY_FLOAT(suffix, T)                                                                              \
    extern "C" __global__ void binary_##suffix(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, \
                                               i64 n, i32 rank, Dims8 dims, Dims8 sa, Dims8 sb, i32 kind, i32* error) \
    {                                                                                                            \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                               \
        {                                                                                                        \
            i64 oa, ob;                                                                                          \
            broadcast_offsets(i, rank, dims, sa, sb, oa, ob);                                                    \
            y[i] = from_float<T>(apply_float(kind, to_float(a[oa]), to_float(b[ob])));                           \
        }                                                                                                        \
    }

#define PXL_BINARY_INT(suffix, T, U)                                                                             \
    extern "C" __global__ void binary_##suffix(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, \
                                               i64 n, i32 rank, Dims8 dims, Dims8 sa, Dims8 sb, i32 kind, i32* error) \
    {                                                                                                            \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                               \
        {                                                                                                        \
            i64 oa, ob;                                                                                          \
            broadcast_offsets(i, rank, dims, sa, sb, oa, ob);                                                    \
            y[i] = apply_int<T, U>(kind, a[oa], b[ob], error);                                                   \
        }                                                                                                        \
    }

PXL_BINARY_FLOAT(f32, float)
PXL_BINARY_FLOAT(bf16, bf16)
PXL_BINARY_FLOAT(f16, half)
PXL_BINARY_INT(i32, i32, u32)
PXL_BINARY_INT(i64, i64, u64)
PXL_BINARY_INT(u8, u8, u8)
