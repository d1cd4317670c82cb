// Elementwise a ∘ b with NumPy broadcasting (BinaryOp). kind: 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min (BinaryKind).
// Floats compute in fp32 and Max/Min propagate NaN (torch.maximum); integers wrap on overflow, Div truncates toward
// zero and a zero divisor raises PXL_ERR_DIV_ZERO (the element is left 0).
//
// The host first coalesces the broadcast layout (drops size-1 dims, merges dims every operand walks contiguously), so
// almost every call lands on one of the division-free row kernels:
//   binary_rows_<t>      y (rows, cols) with a and b each either walking a row (col step 1) or repeating one element of
//                        it (col step 0) and any row stride: same-shape (rows = 1), scalar and bias-like broadcasts.
//                        Launch: grid (x over cols, y over rows — both grid-stride), any block.
//   binary_rows_vec_<t>  the same, 16 bytes per load/store: every operand with col step 1 is 16-byte aligned and its row
//                        stride (and y's, cols) is a multiple of the vector when rows > 1; a ragged row tail is scalar.
//   binary_<t>           the general strided form, rank ≤ 8 (dims and element strides of a and b over y), 32-bit index
//                        math when n < 2^31 and 64-bit otherwise. Launch: any 1-D grid.
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
        // x / −1 overflows for the most negative signed x, so negate in unsigned arithmetic (only signed types have −1).
        return ((I)-1 < (I)0 && b == (I)-1) ? (I)((U)0 - (U)a) : (I)(a / b);
    case 4: return a > b ? a : b;
    default: return a < b ? a : b;
    }
}

PXL_DEVICE float combine(i32 kind, float a, float b, i32*) { return apply_float(kind, a, b); }
PXL_DEVICE bf16 combine(i32 kind, bf16 a, bf16 b, i32*) { return from_float<bf16>(apply_float(kind, to_float(a), to_float(b))); }
PXL_DEVICE half combine(i32 kind, half a, half b, i32*) { return from_float<half>(apply_float(kind, to_float(a), to_float(b))); }
PXL_DEVICE i32 combine(i32 kind, i32 a, i32 b, i32* error) { return apply_int<i32, u32>(kind, a, b, error); }
PXL_DEVICE i64 combine(i32 kind, i64 a, i64 b, i32* error) { return apply_int<i64, u64>(kind, a, b, error); }
PXL_DEVICE u8 combine(i32 kind, u8 a, u8 b, i32* error) { return apply_int<u8, u8>(kind, a, b, error); }

// One row of the row kernels, scalar: element c of the row reads a[c·a_col], b[c·b_col] (steps 0 or 1).
template <typename T>
PXL_DEVICE void row_scalar(const T* a, const T* b, T* y, i64 from, i64 cols, i32 a_col, i32 b_col, i32 kind, i32* error)
{
    for (i64 c = from + (i64)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (i64)gridDim.x * blockDim.x)
        y[c] = combine(kind, a[c * a_col], b[c * b_col], error);
}

template <typename T>
PXL_DEVICE void binary_rows(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, i64 rows, i64 cols,
                            i64 a_row, i32 a_col, i64 b_row, i32 b_col, i32 kind, i32* error)
{
    for (i64 r = blockIdx.y; r < rows; r += gridDim.y)
        row_scalar(a + r * a_row, b + r * b_row, y + r * cols, 0, cols, a_col, b_col, kind, error);
}

template <typename T>
PXL_DEVICE void binary_rows_vec(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, i64 rows, i64 cols,
                                i64 a_row, i32 a_col, i64 b_row, i32 b_col, i32 kind, i32* error)
{
    const int V = PackOf<T>::V;
    typedef typename PackOf<T>::type P;
    const i64 chunks = cols / V;
    for (i64 r = blockIdx.y; r < rows; r += gridDim.y)
    {
        const T* ar = a + r * a_row;
        const T* br = b + r * b_row;
        T* yr = y + r * cols;
        for (i64 k = (i64)blockIdx.x * blockDim.x + threadIdx.x; k < chunks; k += (i64)gridDim.x * blockDim.x)
        {
            P pa, pb, py;
            if (a_col) pa = reinterpret_cast<const P*>(ar)[k];
            else for (int j = 0; j < V; j++) pa.v[j] = ar[0];
            if (b_col) pb = reinterpret_cast<const P*>(br)[k];
            else for (int j = 0; j < V; j++) pb.v[j] = br[0];
#pragma unroll
            for (int j = 0; j < V; j++) py.v[j] = combine(kind, pa.v[j], pb.v[j], error);
            reinterpret_cast<P*>(yr)[k] = py;
        }
        row_scalar(ar, br, yr, chunks * V, cols, a_col, b_col, kind, error);
    }
}

// Offsets of output element i in a and b, by peeling y's dims from the last; I is u32 when n < 2^31, else i64.
template <typename I>
PXL_DEVICE void broadcast_offsets(I i, i32 rank, const Dims8& dims, const Dims8& sa, const Dims8& sb, I& oa, I& ob)
{
    oa = 0;
    ob = 0;
    for (i32 d = rank - 1; d >= 0; d--)
    {
        const I size = (I)dims.v[d];
        const I c = i % size;
        i /= size;
        oa += c * (I)sa.v[d];
        ob += c * (I)sb.v[d];
    }
}

template <typename T>
PXL_DEVICE void binary_strided(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, i64 n, i32 rank,
                               const Dims8& dims, const Dims8& sa, const Dims8& sb, i32 kind, i32* error)
{
    if (n <= 0x7fffffffLL)
    {
        // Every offset is below n (a broadcast operand is no larger than y), so 32 bits hold them all.
        for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < (u32)n; i += gridDim.x * blockDim.x)
        {
            u32 oa, ob;
            broadcast_offsets<u32>(i, rank, dims, sa, sb, oa, ob);
            y[i] = combine(kind, a[oa], b[ob], error);
        }
        return;
    }
    PXL_GRID_STRIDE_LOOP(i, n)
    {
        i64 oa, ob;
        broadcast_offsets<i64>(i, rank, dims, sa, sb, oa, ob);
        y[i] = combine(kind, a[oa], b[ob], error);
    }
}

#define PXL_BINARY(suffix, T)                                                                                         \
    extern "C" __global__ void binary_##suffix(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y,      \
                                               i64 n, i32 rank, Dims8 dims, Dims8 sa, Dims8 sb, i32 kind, i32* error)    \
    { pxl_dependent_launch();                                                                                         \
        binary_strided<T>(a, b, y, n, rank, dims, sa, sb, kind, error);                                               \
    }                                                                                                                 \
    extern "C" __global__ void binary_rows_##suffix(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, \
                                                    i64 rows, i64 cols, i64 a_row, i32 a_col, i64 b_row, i32 b_col,     \
                                                    i32 kind, i32* error)                                             \
    { pxl_dependent_launch();                                                                                         \
        binary_rows<T>(a, b, y, rows, cols, a_row, a_col, b_row, b_col, kind, error);                                 \
    }                                                                                                                 \
    extern "C" __global__ void binary_rows_vec_##suffix(const T* __restrict__ a, const T* __restrict__ b,               \
                                                        T* __restrict__ y, i64 rows, i64 cols, i64 a_row, i32 a_col,    \
                                                        i64 b_row, i32 b_col, i32 kind, i32* error)                   \
    { pxl_dependent_launch();                                                                                         \
        binary_rows_vec<T>(a, b, y, rows, cols, a_row, a_col, b_row, b_col, kind, error);                             \
    }

PXL_BINARY(f32, float)
PXL_BINARY(bf16, bf16)
PXL_BINARY(f16, half)
PXL_BINARY(i32, i32)
PXL_BINARY(i64, i64)
PXL_BINARY(u8, u8)
