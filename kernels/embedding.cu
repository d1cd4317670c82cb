// EmbeddingOp: row gather y[t, :] = table[ids[t], :] for table (V, D) and i32 or i64 ids. An id outside [0, V)
// raises PXL_ERR_INDEX and its row is written as zeros. Launch: any 1-D grid over tokens·D.
#include "prelude.cuh"

#define PXL_EMBEDDING(suffix, T, ids_suffix, I)                                                                    \
    extern "C" __global__ void embedding_##suffix##_##ids_suffix(const T* __restrict__ table, const I* __restrict__ ids, \
                                                                 T* __restrict__ y, i64 n, i32 dim, i64 vocab, i32* error) \
    { pxl_dependent_launch();                                                                                      \
        PXL_GRID_STRIDE_LOOP(i, n)                                                                                 \
        {                                                                                                          \
            const i64 id = (i64)ids[i / dim];                                                                      \
            if (id < 0 || id >= vocab) { pxl_fail(error, PXL_ERR_INDEX); y[i] = T(); continue; }                   \
            y[i] = table[id * dim + i % dim];                                                                      \
        }                                                                                                          \
    }

PXL_EMBEDDING(f32, float, i32, i32)
PXL_EMBEDDING(bf16, bf16, i32, i32)
PXL_EMBEDDING(f16, half, i32, i32)
PXL_EMBEDDING(f32, float, i64, i64)
PXL_EMBEDDING(bf16, bf16, i64, i64)
PXL_EMBEDDING(f16, half, i64, i64)
