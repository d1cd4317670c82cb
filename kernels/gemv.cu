// GEMV for few rows: y (rows, N) = x (rows, K) · W (N, K)ᵀ [+ bias (N)] [+ residual (rows, N)], rows ≤ R ∈ {1, 2, 4, 8}. This is the decode
// step's Linear (one token per beam), where cuBLAS's M = 1 GEMM reaches a fraction of the memory bandwidth: the whole
// cost is streaming W once, so one pass over each weight row serves every input row.
// Layout: one warp per output column; lanes stride K with 16-byte loads of W (8 bf16/f16 or 4 f32) when K is a multiple
// of that and both x and W are 16-byte aligned, scalar loads otherwise; GEMV_UNROLL loads in flight per lane before
// any arithmetic (8 for one row: a whole 2048-wide bf16 column in one round trip). x is re-read per column through L1
// (every warp of the SM reads the same few KB). fp32 accumulation, one warp reduction per row, one rounding to the
// storage type after the bias and the residual (the skip connection of a decode step's output projections, added here
// instead of in a separate launch).
// With norm_weight (RmsNormLinearOp, T5's pre-norm q/k/v and wi projections) x is RMS-normalised on the fly, one launch
// instead of RmsNorm + gemv: Σ_k w_k·(x_k·inv_rms·g_k) = inv_rms · Σ_k (w_k·g_k)·x_k, so the weight is scaled by the norm
// weight as it streams in and the row's inv_rms = 1/√(mean(x²) + eps) multiplies the reduced sum. Every warp sums x² of
// the x vectors its main loop loads anyway (a shared-memory hand-off would need a barrier that warps past N never reach).
// With w_up (gemv_rmsnorm_geglu, RmsNormGeGluOp: the first half of T5's gated feed-forward) each warp streams the same
// column of two weights and writes gelu_tanh(x·wᵀ)·(x·w_upᵀ): wi_0, wi_1 and the GeGLU in one launch.
// Output rows are y_row_stride apart (N for a plain (rows, N) output). With y_position the rows land at slot *y_position
// of a (rows, y_size, N) KV cache instead: the projection is written into the cache in the same launch; a slot outside
// [0, y_size) raises PXL_ERR_POSITION and that product writes nothing (every thread checks it).
// gemv_[rmsnorm_]qkv (QkvProjectionOp) is three products of one x in one launch: grid.y picks the weight, the bias and
// the destination — 0: q (rows, N); 1, 2: the key and value caches at *y_position. One launch instead of three keeps
// three times the loads in flight (each 2048² product alone is one DRAM round trip plus a launch).
// Launch: grid = (ceil(N / GEMV_WARPS), 1 or 3 for qkv, 1), block = (32·GEMV_WARPS, 1, 1); bias, residual, norm_weight
// and y_position may be null; residual may be y itself (each element is read before it is written, by the same lane).
// prefetch (prefetch.cuh): byte ranges of later launches' weights to request into L2 before this launch's wait; all empty
// outside a prefetching decoder stack.
#include "gemv.cuh"

// gemv_<t>_r<R>: the plain product; gemv_rmsnorm_<t>_r<R>: with the RMS-norm prologue; gemv_rmsnorm_geglu_<t>_r<R>:
// also the second weight and the GeGLU. Each has its own registers, so the plain kernels keep their occupancy; all take the
// same parameters and ignore what they do not use.
#define PXL_GEMV(name, norm, gated, suffix, T, R)                                                                   \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) name##_##suffix##_r##R(                            \
        const T* x, const T* w, const T* w_up, const T* bias, const T* residual, const T* norm_weight, T* y, i32 rows, \
        i32 n, i32 k, float norm_eps, i64 y_row_stride, const i32* y_position, i32 y_size, i32* error,              \
        PxlPrefetch prefetch)                                                                                       \
    {                                                                                                               \
        gemv<T, R, norm, gated>(x, w, w_up, bias, residual, norm_weight, y, rows, n, k, norm_eps, y_row_stride,      \
                                y_position, y_size, error, prefetch, blockIdx.x);                                   \
    }

#define PXL_GEMV_ALL_ROWS(name, norm, gated, suffix, T)                                                             \
    PXL_GEMV(name, norm, gated, suffix, T, 1) PXL_GEMV(name, norm, gated, suffix, T, 2)                              \
    PXL_GEMV(name, norm, gated, suffix, T, 4) PXL_GEMV(name, norm, gated, suffix, T, 8)

#define PXL_GEMV_ALL_TYPES(name, norm, gated)                                                                       \
    PXL_GEMV_ALL_ROWS(name, norm, gated, f32, float) PXL_GEMV_ALL_ROWS(name, norm, gated, bf16, bf16)                \
    PXL_GEMV_ALL_ROWS(name, norm, gated, f16, half)

PXL_GEMV_ALL_TYPES(gemv, false, false)
PXL_GEMV_ALL_TYPES(gemv_rmsnorm, true, false)
PXL_GEMV_ALL_TYPES(gemv_rmsnorm_geglu, true, true)

// gemv_qkv / gemv_rmsnorm_qkv: which product this block computes — the same body, the weight, the bias (or none) and the
// destination chosen by blockIdx.y.
#define PXL_GEMV_QKV(name, norm, suffix, T, R)                                                                      \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) name##_##suffix##_r##R(                            \
        const T* x, const T* wq, const T* wk, const T* wv, const T* bq, const T* bk, const T* bv, const T* norm_weight, \
        T* q, T* key_cache, T* value_cache, i32 rows, i32 n, i32 k, float norm_eps, const i32* y_position, i32 y_size,  \
        i32* error, PxlPrefetch prefetch)                                                                           \
    {                                                                                                               \
        gemv<T, R, norm, false>(x, blockIdx.y == 0 ? wq : blockIdx.y == 1 ? wk : wv, nullptr,                       \
                                blockIdx.y == 0 ? bq : blockIdx.y == 1 ? bk : bv, nullptr, norm_weight,             \
                                blockIdx.y == 0 ? q : blockIdx.y == 1 ? key_cache : value_cache, rows, n, k, norm_eps, \
                                blockIdx.y == 0 ? (i64)n : (i64)y_size * n, blockIdx.y == 0 ? nullptr : y_position,  \
                                y_size, error, prefetch, blockIdx.x);                                               \
    }

#define PXL_GEMV_QKV_ALL_ROWS(name, norm, suffix, T)                                                                \
    PXL_GEMV_QKV(name, norm, suffix, T, 1) PXL_GEMV_QKV(name, norm, suffix, T, 2)                                    \
    PXL_GEMV_QKV(name, norm, suffix, T, 4) PXL_GEMV_QKV(name, norm, suffix, T, 8)

#define PXL_GEMV_QKV_ALL_TYPES(name, norm)                                                                          \
    PXL_GEMV_QKV_ALL_ROWS(name, norm, f32, float) PXL_GEMV_QKV_ALL_ROWS(name, norm, bf16, bf16)                      \
    PXL_GEMV_QKV_ALL_ROWS(name, norm, f16, half)

PXL_GEMV_QKV_ALL_TYPES(gemv_qkv, false)
PXL_GEMV_QKV_ALL_TYPES(gemv_rmsnorm_qkv, true)
