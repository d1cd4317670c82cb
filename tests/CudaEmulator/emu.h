// emu.h: the CUDA C++ that kernels/*.cu use, for the host. The fake NVRTC (fake_nvrtc.cpp) force-includes it when it
// compiles a kernel file with g++ into an emulated module; with PXL_EMULATION defined, kernels/prelude.cuh and the
// other headers leave out their inline PTX, whose host forms are at the end of this file.
//
// Execution model (libpxlemu.so, runtime.cpp): a block runs on one host thread and its CUDA threads are fibers on it,
// switched only at barriers, warp collectives and spin waits. So `__shared__` is thread-local storage (one copy per
// block's host thread), warp-synchronous code must say so (__syncwarp, *_sync), and anything a kernel assumes about
// lockstep execution without a sync shows up as a wrong result here, as it could on a GPU since Volta.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <utility>

#include "float16_bits.h"
#include "pxlemu.h"

#define PXL_EMULATION 1

// ---- the language ----------------------------------------------------------------------------------------------
// The fake NVRTC lists a module's kernels from a preprocessed copy in which __global__ is still visible.
#ifdef PXLEMU_LIST_KERNELS
#define __global__ PXLEMU_GLOBAL
#else
#define __global__
#endif
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict
// A block's shared variables: one per host thread, i.e. per running block. (The fake NVRTC rewrites
// `extern __shared__` to `extern __thread` and defines those arrays at the end of the module.)
#define __shared__ static __thread

struct PxlemuDim3
{
    unsigned x, y, z;
};

// What the running fiber sees as its built-in variables; the runtime points pxlemu_self at the current fiber's copy.
struct PxlemuThreadState
{
    PxlemuDim3 thread_idx, block_idx, block_dim, grid_dim;
};

extern "C" {
extern __thread PxlemuThreadState* pxlemu_self;
void pxlemu_syncthreads(void);
void pxlemu_syncwarp(unsigned mask);
// Warp collective: every participating lane gives `bytes` bytes and gets all 32 lanes' contributions (lane-major).
void pxlemu_warp_exchange(const void* mine, void* all, size_t bytes, unsigned mask);
// A spin wait's pause: lets the block's other fibers and the other blocks' host threads run.
void pxlemu_yield(void);
unsigned long long pxlemu_global_timer_ns(void);
}

#define threadIdx (pxlemu_self->thread_idx)
#define blockIdx (pxlemu_self->block_idx)
#define blockDim (pxlemu_self->block_dim)
#define gridDim (pxlemu_self->grid_dim)
#define warpSize 32

// ---- vector types ----------------------------------------------------------------------------------------------
struct __attribute__((aligned(8))) float2 { float x, y; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }

// ---- intrinsics ------------------------------------------------------------------------------------------------
inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; std::memcpy(&v, &f, 4); return v; }
inline unsigned __float_as_uint(float f) { unsigned v; std::memcpy(&v, &f, 4); return v; }
// The _rn forms exist so nvcc does not contract them into FMAs; g++ compiles modules with -ffp-contract=off.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float rsqrtf(float v) { return 1.0f / std::sqrt(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }

// CUDA's integer and float min/max take mixed argument types and return the usual arithmetic conversion.
template <typename A, typename B> inline std::common_type_t<A, B> min(A a, B b)
{
    return b < a ? (std::common_type_t<A, B>)b : (std::common_type_t<A, B>)a;
}
template <typename A, typename B> inline std::common_type_t<A, B> max(A a, B b)
{
    return a < b ? (std::common_type_t<A, B>)b : (std::common_type_t<A, B>)a;
}

inline void __syncthreads() { pxlemu_syncthreads(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { pxlemu_syncwarp(mask); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

inline unsigned pxlemu_lane() { return (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) & 31u; }

template <typename T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32)
{
    static_assert(sizeof(T) <= 8, "shuffle of a value wider than 8 bytes");
    T all[32];
    pxlemu_warp_exchange(&v, all, sizeof(T), mask);
    const unsigned lane = pxlemu_lane();
    return all[(lane & ~(unsigned)(width - 1)) + ((unsigned)src & (unsigned)(width - 1))];
}

template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32)
{
    static_assert(sizeof(T) <= 8, "shuffle of a value wider than 8 bytes");
    T all[32];
    pxlemu_warp_exchange(&v, all, sizeof(T), mask);
    const unsigned lane = pxlemu_lane();
    const unsigned other = lane ^ (unsigned)lane_mask;
    // A partner outside this lane's width-wide segment keeps the lane's own value, as on the device.
    return (other & ~(unsigned)(width - 1)) == (lane & ~(unsigned)(width - 1)) ? all[other] : v;
}

// Blocks are host threads, so device atomics are host atomics.
template <typename T> inline T atomicAdd(T* p, T v)
{
    if constexpr (std::is_integral_v<T>) return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
    else
    {
        T seen = __atomic_load_n(p, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(p, &seen, seen + v, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {}
        return seen;
    }
}
template <typename T> inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
template <typename T> inline T atomicCAS(T* p, T expected, T desired)
{
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected; // the old value either way
}

// ---- shared-memory addresses -----------------------------------------------------------------------------------
// ldmatrix and cp.async take 32-bit shared-window addresses. A module's shared variables are all in its thread-local
// block, so an offset from one anchor in it is 32 bits wide and maps back on the same host thread.
static __thread char pxlemu_shared_anchor;
inline unsigned pxlemu_shared_offset(const void* p) { return (unsigned)((const char*)p - &pxlemu_shared_anchor); }
inline void* pxlemu_shared_pointer(unsigned address) { return &pxlemu_shared_anchor + (int)address; }

// The dynamic shared memory every `extern __shared__` array is given (the device's opt-in maximum per block).
#define PXLEMU_DYNAMIC_SHARED_BYTES 232448

// ---- the host forms of the kernels' inline PTX (each used where the header says `#ifdef PXL_EMULATION`) -----------
// cvt.f32.f16 and cvt.rn.{f16,bf16}.f32: float16_bits.h.

// cp.async.cg.shared.global with src-size: `bytes` of 16 copied, the rest zero-filled. The copy is done at once, so a
// kernel that reads the destination before its cp.async.wait is not caught here.
inline void pxlemu_copy_async16(unsigned shared, const void* global, int bytes)
{
    char* destination = (char*)pxlemu_shared_pointer(shared);
    if (bytes > 0) std::memcpy(destination, global, (size_t)bytes);
    if (bytes < 16) std::memset(destination + bytes, 0, (size_t)(16 - bytes));
}

// ld.global.cg and ld.acquire.gpu: other blocks are other host threads.
template <typename T> inline T pxlemu_load_volatile(const T* p)
{
    T v;
    std::memcpy(&v, (const void*)p, sizeof(T));
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return v;
}
inline int pxlemu_load_acquire(const int* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8i..8i+7 give the row addresses of matrix i; lane l gets,
// of matrix i, the pair at row l/4, columns 2(l%4) and 2(l%4)+1 (with .trans: rows 2(l%4) and +1 of column l/4).
inline void pxlemu_ldmatrix_x4(unsigned* r, unsigned address, bool transpose)
{
    unsigned addresses[32];
    pxlemu_warp_exchange(&address, addresses, sizeof(unsigned), 0xffffffffu);
    const unsigned lane = pxlemu_lane(), row = lane / 4, column = 2 * (lane % 4);
    for (int i = 0; i < 4; i++)
    {
        unsigned short pair[2];
        for (int e = 0; e < 2; e++)
        {
            const unsigned at_row = transpose ? column + e : row, at_column = transpose ? row : column + e;
            std::memcpy(&pair[e], (const char*)pxlemu_shared_pointer(addresses[8 * i + at_row]) + 2 * at_column, 2);
        }
        r[i] = (unsigned)pair[0] | ((unsigned)pair[1] << 16);
    }
    pxlemu_syncwarp(0xffffffffu);
}

// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32, D = A·B + C with the PTX ISA's fragments (g = lane/4,
// t = lane%4): A a0 (g, 2t..), a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..); B b0 (k 2t.., n g), b1 (k 2t+8.., n g);
// C/D c0,c1 (g, 2t..), c2,c3 (g+8, 2t..). Products summed in k order in fp32.
inline void pxlemu_mma_16816(float* c, const unsigned* a, const unsigned* b, bool half_inputs)
{
    struct Fragments { unsigned a[4], b[2]; } mine, all[32];
    std::memcpy(mine.a, a, sizeof mine.a);
    std::memcpy(mine.b, b, sizeof mine.b);
    pxlemu_warp_exchange(&mine, all, sizeof(Fragments), 0xffffffffu);
    auto element = [&](unsigned word, int high) {
        const unsigned short bits = (unsigned short)(high ? word >> 16 : word & 0xffffu);
        return half_inputs ? pxlemu_f16_to_float(bits) : pxlemu_bf16_to_float(bits);
    };
    float A[16][16], B[16][8];
    for (unsigned l = 0; l < 32; l++)
    {
        const unsigned g = l / 4, t = l % 4;
        for (int e = 0; e < 2; e++)
        {
            A[g][2 * t + e] = element(all[l].a[0], e);
            A[g + 8][2 * t + e] = element(all[l].a[1], e);
            A[g][2 * t + 8 + e] = element(all[l].a[2], e);
            A[g + 8][2 * t + 8 + e] = element(all[l].a[3], e);
            B[2 * t + e][g] = element(all[l].b[0], e);
            B[2 * t + 8 + e][g] = element(all[l].b[1], e);
        }
    }
    const unsigned lane = pxlemu_lane(), g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; i++)
    {
        const unsigned row = g + (i >= 2 ? 8 : 0), column = 2 * t + (i & 1);
        float sum = c[i];
        for (int k = 0; k < 16; k++) sum = std::fma(A[row][k], B[k][column], sum);
        c[i] = sum;
    }
}
