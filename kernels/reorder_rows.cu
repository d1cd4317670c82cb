// ReorderRowsOp, in place: afterwards row r of x (rows, row_elems) holds what row rows[r] held. Two launches: stage
// gathers every row into scratch (reading x only), commit copies scratch back — unless the error word is set, so an
// index outside [0, rows) (PXL_ERR_INDEX, raised by stage) leaves x untouched.
// Data movement only: reorder_rows_{stage,commit}_b1/b2/b4/b8. Launch: any 1-D grid over the elements.
// reorder_rows_many_{stage,commit}_b*: the same for up to REORDER_MAX_TENSORS alike tensors (ReorderRowsOp with Tensors
// > 1: a beam step's every KV cache) named by a table of addresses, staged one after another into scratch — one launch
// pair for all of them instead of one per cache.
#include "prelude.cuh"

#define REORDER_MAX_TENSORS 64

// Device addresses passed by value (512 bytes of the 4 KB parameter space); matches the backend's PointerTable64.
struct PointerTable { u64 p[REORDER_MAX_TENSORS]; };

#define PXL_REORDER(suffix, E)                                                                                      \
    extern "C" __global__ void reorder_rows_stage_##suffix(const E* __restrict__ x, const i32* __restrict__ rows,    \
                                                           E* __restrict__ scratch, i64 n, i64 row_elems, i32 count, i32* error) \
    { pxl_dependent_launch();                                                                                       \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                                  \
        {                                                                                                           \
            const i32 from = rows[i / row_elems];                                                                   \
            if (from < 0 || from >= count) { pxl_fail(error, PXL_ERR_INDEX); continue; }                            \
            scratch[i] = x[from * row_elems + i % row_elems];                                                       \
        }                                                                                                           \
    }                                                                                                               \
    extern "C" __global__ void reorder_rows_commit_##suffix(const E* __restrict__ scratch, E* __restrict__ x, i64 n, const i32* error) \
    { pxl_dependent_launch();                                                                                       \
        if (*error != 0) return;                                                                                    \
        PXL_GRID_STRIDE_LOOP(i, n) x[i] = scratch[i];                                                               \
    }

PXL_REORDER(b1, u8)
PXL_REORDER(b2, u16)
PXL_REORDER(b4, u32)
PXL_REORDER(b8, u64)

#define PXL_REORDER_MANY(suffix, E)                                                                                 \
    extern "C" __global__ void reorder_rows_many_stage_##suffix(PointerTable xs, i32 tensors, const i32* __restrict__ rows, \
                                                                E* __restrict__ scratch, i64 n, i64 row_elems, i32 count, i32* error) \
    { pxl_dependent_launch();                                                                                       \
        PXL_GRID_STRIDE_LOOP(i, n * tensors)                                                                        \
        {                                                                                                           \
            const i64 within = i % n;                                                                               \
            const i32 from = rows[within / row_elems];                                                              \
            if (from < 0 || from >= count) { pxl_fail(error, PXL_ERR_INDEX); continue; }                            \
            const E* x = reinterpret_cast<const E*>(xs.p[i / n]);                                                   \
            scratch[i] = x[from * row_elems + within % row_elems];                                                  \
        }                                                                                                           \
    }                                                                                                               \
    extern "C" __global__ void reorder_rows_many_commit_##suffix(const E* __restrict__ scratch, PointerTable xs, i32 tensors, \
                                                                 i64 n, const i32* error)                           \
    { pxl_dependent_launch();                                                                                       \
        if (*error != 0) return;                                                                                    \
        PXL_GRID_STRIDE_LOOP(i, n * tensors) reinterpret_cast<E*>(xs.p[i / n])[i % n] = scratch[i];                  \
    }

PXL_REORDER_MANY(b1, u8)
PXL_REORDER_MANY(b2, u16)
PXL_REORDER_MANY(b4, u32)
PXL_REORDER_MANY(b8, u64)
