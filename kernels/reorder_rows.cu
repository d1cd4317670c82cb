// ReorderRowsOp, in place, for one or more alike tensors (a beam step's every KV cache) named by a table of addresses:
// afterwards row r of each x (rows, row_elems) holds what row rows[r] held. An index outside [0, rows) raises
// PXL_ERR_INDEX and leaves every x untouched. Data movement only. With a limit (ReorderRowsOp.ValidPrefix; null
// otherwise) only the first *limit slots of slot_units (slot_elems) each move in every row: a cache's filled prefix.
// The limit is read on the device, so a captured decode step replays with each step's own.
// Up to 16 rows (beams), one launch, no scratch: reorder_rows_inplace_{v16,b1,b2,b4,b8}_r{4,16} (at most
// 4 or 16 rows; the registers of 16 rows' units would leave the usual beam count one block per SM). A thread owns one
// unit (16 bytes where every row and address allows, else one element) at the same offset of every row of a tensor, so
// it reads all the units it moves before it writes any and no other thread touches them; every thread checks every
// index first, so either all of them write or none does. Rows that keep their contents are neither read nor written.
// Launch: grid (blocks over row_units, tensors), at most REORDER_MAX_TENSORS tensors a launch.
// More rows: two launches, reorder_rows_{stage,commit}_b1/b2/b4/b8: stage gathers every tensor's rows into scratch, one
// tensor after another (reading the x only), commit copies scratch back unless the error word is set. Launch: any 1-D
// grid over n · tensors elements.
#include "prelude.cuh"

#define REORDER_MAX_TENSORS 64

// Device addresses passed by value (512 bytes of the 4 KB parameter space); matches the backend's PointerTable64.
struct PointerTable { u64 p[REORDER_MAX_TENSORS]; };

// How much of a row of row_units moves: all of it, or its first *limit slots (clamped to the row).
PXL_DEVICE i64 reorder_row_moves(const i32* limit, i64 row_units, i64 slot_units)
{
    if (limit == nullptr) return row_units;
    const i64 slots = row_units / slot_units, wanted = *limit;
    return (wanted < 0 ? 0 : wanted > slots ? slots : wanted) * slot_units;
}

#define PXL_REORDER(suffix, E)                                                                                      \
    extern "C" __global__ void reorder_rows_stage_##suffix(PointerTable xs, i32 tensors, const i32* __restrict__ rows, \
                                                           E* __restrict__ scratch, i64 n, i64 row_elems, i32 count, i32* error, \
                                                           const i32* limit, i64 slot_elems)                        \
    { pxl_dependent_launch();                                                                                       \
        const i64 moves = reorder_row_moves(limit, row_elems, slot_elems);                                          \
        PXL_GRID_STRIDE_LOOP(i, n * tensors)                                                                        \
        {                                                                                                           \
            const i64 within = i % n;                                                                               \
            const i32 from = rows[within / row_elems];                                                              \
            if (from < 0 || from >= count) { pxl_fail(error, PXL_ERR_INDEX); continue; }                            \
            if (within % row_elems >= moves) continue;                                                              \
            const E* x = reinterpret_cast<const E*>(xs.p[i / n]);                                                   \
            scratch[i] = x[from * row_elems + within % row_elems];                                                  \
        }                                                                                                           \
    }                                                                                                               \
    extern "C" __global__ void reorder_rows_commit_##suffix(const E* __restrict__ scratch, PointerTable xs, i32 tensors, \
                                                            i64 n, const i32* error, i64 row_elems, const i32* limit, i64 slot_elems) \
    { pxl_dependent_launch();                                                                                       \
        if (*error != 0) return;                                                                                    \
        const i64 moves = reorder_row_moves(limit, row_elems, slot_elems);                                          \
        PXL_GRID_STRIDE_LOOP(i, n * tensors)                                                                        \
            if (i % n % row_elems < moves) reinterpret_cast<E*>(xs.p[i / n])[i % n] = scratch[i];                   \
    }

PXL_REORDER(b1, u8)
PXL_REORDER(b2, u16)
PXL_REORDER(b4, u32)
PXL_REORDER(b8, u64)

template <typename U, int MAX_ROWS>
PXL_DEVICE void reorder_rows_inplace(const PointerTable& xs, const i32* __restrict__ rows, i32 count, i64 row_units, i32* error,
                                     const i32* limit, i64 slot_units)
{
    i32 from[MAX_ROWS];
    bool valid = true;
#pragma unroll
    for (int r = 0; r < MAX_ROWS; r++)
    {
        from[r] = r < count ? rows[r] : r;
        valid = valid && (r >= count || (from[r] >= 0 && from[r] < count));
    }
    if (!valid)
    {
        if (blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0) pxl_fail(error, PXL_ERR_INDEX);
        return;
    }
    U* x = reinterpret_cast<U*>(xs.p[blockIdx.y]);
    const i64 moves = reorder_row_moves(limit, row_units, slot_units);
    for (i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x; c < moves; c += (i64)gridDim.x * blockDim.x)
    {
        U moved[MAX_ROWS];
#pragma unroll
        for (int r = 0; r < MAX_ROWS; r++)
            if (r < count && from[r] != r) moved[r] = x[from[r] * row_units + c];
#pragma unroll
        for (int r = 0; r < MAX_ROWS; r++)
            if (r < count && from[r] != r) x[r * row_units + c] = moved[r];
    }
}

#define PXL_REORDER_INPLACE(suffix, U, R)                                                                           \
    extern "C" __global__ void reorder_rows_inplace_##suffix##_r##R(PointerTable xs, const i32* rows, i32 count,       \
                                                                    i64 row_units, i32* error, const i32* limit,    \
                                                                    i64 slot_units)                                 \
    {                                                                                                               \
        pxl_dependent_launch();                                                                                     \
        reorder_rows_inplace<U, R>(xs, rows, count, row_units, error, limit, slot_units);                           \
    }

#define PXL_REORDER_INPLACE_ROWS(suffix, U) PXL_REORDER_INPLACE(suffix, U, 4) PXL_REORDER_INPLACE(suffix, U, 16)

PXL_REORDER_INPLACE_ROWS(v16, pxl_vec16)
PXL_REORDER_INPLACE_ROWS(b1, u8)
PXL_REORDER_INPLACE_ROWS(b2, u16)
PXL_REORDER_INPLACE_ROWS(b4, u32)
PXL_REORDER_INPLACE_ROWS(b8, u64)
