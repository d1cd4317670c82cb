// ReorderRowsOp, in place, for one or more alike tensors (a beam step's every KV cache) named by a table of addresses:
// afterwards row r of each x (rows, row_elems) holds what row rows[r] held. Two launches for all of them: stage
// gathers every tensor's rows into scratch, one tensor after another (reading the x only), commit copies scratch back —
// unless the error word is set, so an index outside [0, rows) (PXL_ERR_INDEX, raised by stage) leaves every x untouched.
// Data movement only: reorder_rows_{stage,commit}_b1/b2/b4/b8. Launch: any 1-D grid over n · tensors elements, at most
// REORDER_MAX_TENSORS tensors a launch pair.
#include "prelude.cuh"

#define REORDER_MAX_TENSORS 64

// Device addresses passed by value (512 bytes of the 4 KB parameter space); matches the backend's PointerTable64.
struct PointerTable { u64 p[REORDER_MAX_TENSORS]; };

#define PXL_REORDER(suffix, E)                                                                                      \
    extern "C" __global__ void reorder_rows_stage_##suffix(PointerTable xs, i32 tensors, const i32* __restrict__ rows, \
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
    extern "C" __global__ void reorder_rows_commit_##suffix(const E* __restrict__ scratch, PointerTable xs, i32 tensors, \
                                                            i64 n, const i32* error)                                \
    { pxl_dependent_launch();                                                                                       \
        if (*error != 0) return;                                                                                    \
        PXL_GRID_STRIDE_LOOP(i, n * tensors) reinterpret_cast<E*>(xs.p[i / n])[i % n] = scratch[i];                  \
    }

PXL_REORDER(b1, u8)
PXL_REORDER(b2, u16)
PXL_REORDER(b4, u32)
PXL_REORDER(b8, u64)
