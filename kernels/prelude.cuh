// prelude.cuh: shared by every kernel in kernels/. Header-free on purpose: NVRTC compiles these at run time
// with no CUDA toolkit headers available (NVRTC 11.x ships no cuda_fp16.h / cuda_bf16.h), so everything a
// kernel needs from "the standard library" lives here. Targets sm_80 and newer (the bf16 conversion needs it).
#pragma once

// Fixed-width integers under short names of our own, so they never collide with <stdint.h> when nvcc
// force-includes the runtime headers (int64_t is `long` there, `long long` would clash).
typedef signed char i8;
typedef unsigned char u8;
typedef short i16;
typedef unsigned short u16;
typedef int i32;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;

#define PXL_DEVICE __device__ __forceinline__
#define PXL_FULL_MASK 0xffffffffu

PXL_DEVICE float pxl_neg_inf() { return __int_as_float(0xff800000); }
PXL_DEVICE float pxl_nan() { return __int_as_float(0x7fc00000); }

// 16-bit float storage types. They only hold bits: all arithmetic is done in fp32 after to_float().
struct __align__(2) bf16 { u16 bits; };
struct __align__(2) half { u16 bits; };

PXL_DEVICE float to_float(float v) { return v; }
// bf16 is the top half of an fp32, so widening is exact and needs no conversion instruction.
PXL_DEVICE float to_float(bf16 v) { return __int_as_float((i32)((u32)v.bits << 16)); }
PXL_DEVICE float to_float(half v)
{
#ifdef PXL_EMULATION // tests/CudaEmulator: the host forms of this file's inline PTX
    return pxlemu_f16_to_float(v.bits);
#else
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.bits));
    return f;
#endif
}

// Narrowing rounds to nearest even, like the CPU backend's Cast.
template <typename T> PXL_DEVICE T from_float(float v);
template <> PXL_DEVICE float from_float<float>(float v) { return v; }
template <> PXL_DEVICE bf16 from_float<bf16>(float v)
{
    bf16 r;
#ifdef PXL_EMULATION
    r.bits = pxlemu_float_to_bf16(v);
#else
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r.bits) : "f"(v));
#endif
    return r;
}
template <> PXL_DEVICE half from_float<half>(float v)
{
    half r;
#ifdef PXL_EMULATION
    r.bits = pxlemu_float_to_f16(v);
#else
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r.bits) : "f"(v));
#endif
    return r;
}

// The activations more than one kernel file applies (unary.cu, swiglu.cu's GLUs, gemv.cu's gated form), defined once.
// gelu_tanh: the tanh approximation (UnaryKind.GeluTanh); silu: x / (1 + e^{-x}).
PXL_DEVICE float gelu_tanh(float v)
{
    const float k = 0.79788456080286536f; // √(2/π)
    return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}

PXL_DEVICE float silu(float v) { return v / (1.0f + expf(-v)); }

// gelu: the exact erf form (UnaryKind.Gelu); relu as a comparison rather than fmaxf(v, 0), which would turn NaN into 0.
PXL_DEVICE float gelu(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); }
PXL_DEVICE float relu(float v) { return v < 0.0f ? 0.0f : v; }

// Programmatic dependent launch (sm_90; with PIXELLLM_PDL=1 the backend defines PXL_DEPENDENT_LAUNCH and launches every
// kernel that way). Every kernel calls this first: it waits until the previous kernel in the stream has finished and its
// writes are visible, then lets the next kernel's blocks be scheduled while this one runs, so a launch's setup overlaps
// its predecessor's tail. Without the define, or below sm_90, it is empty. Nothing the predecessor may write can be read
// before it (constant weights can: gemv.cu requests its first weights before waiting).
PXL_DEVICE void pxl_dependent_launch()
{
#if defined(PXL_DEPENDENT_LAUNCH) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// The device's nanosecond clock (%globaltimer; the emulator's host clock), for waits that give up instead of hanging.
PXL_DEVICE u64 pxl_now_ns()
{
#ifdef PXL_EMULATION
    return pxlemu_global_timer_ns();
#else
    u64 t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
#endif
}

// 16 bytes of any element type, loaded with one vector instruction.
struct __align__(16) pxl_vec16 { u32 w[4]; };

// A shared-memory pointer as the 32-bit address ldmatrix and cp.async take.
PXL_DEVICE u32 pxl_shared_address(const void* p)
{
#ifdef PXL_EMULATION
    return pxlemu_shared_offset(p);
#else
    u32 a;
    asm("{ .reg .u64 g; cvta.to.shared.u64 g, %1; cvt.u32.u64 %0, g; }" : "=r"(a) : "l"(p));
    return a;
#endif
}

// 16 bytes from global to shared memory without a register (cp.async.cg, sm_80+), or 16 zero bytes where `copy` is false
// (src-size 0: nothing is read from `global`); visible to this thread after its cp.async.commit_group and
// cp.async.wait_*, to the block after a barrier that follows them.
PXL_DEVICE void pxl_copy_async16_or_zero(u32 shared, const void* global, bool copy)
{
#ifdef PXL_EMULATION
    pxlemu_copy_async16(shared, global, copy ? 16 : 0);
#else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(shared), "l"(global), "r"(copy ? 16 : 0) : "memory");
#endif
}

PXL_DEVICE void pxl_copy_async16(void* shared, const void* global)
{
#ifdef PXL_EMULATION
    pxlemu_copy_async16(pxl_shared_address(shared), global, 16);
#else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(pxl_shared_address(shared)), "l"(global) : "memory");
#endif
}

// The end of a group of this thread's cp.async copies, and the waits for them: all of them, or all but the newest N groups.
PXL_DEVICE void pxl_copy_async_commit()
{
#ifndef PXL_EMULATION // (the emulator's copies are done when issued)
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

PXL_DEVICE void pxl_copy_async_wait_all()
{
#ifndef PXL_EMULATION
    asm volatile("cp.async.wait_all;" ::: "memory");
#endif
}

template <int N> PXL_DEVICE void pxl_copy_async_wait_group()
{
#ifndef PXL_EMULATION
    asm volatile("cp.async.wait_group %0;" :: "n"(N) : "memory");
#endif
}

PXL_DEVICE void unpack(const pxl_vec16& v, float* out, float)
{
#pragma unroll
    for (int i = 0; i < 4; i++) out[i] = __uint_as_float(v.w[i]);
}

// Element 2i is the low half of word i (little-endian); bf16 widens by shifting into the top half.
PXL_DEVICE void unpack(const pxl_vec16& v, float* out, bf16)
{
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        out[2 * i] = __uint_as_float(v.w[i] << 16);
        out[2 * i + 1] = __uint_as_float(v.w[i] & 0xffff0000u);
    }
}

PXL_DEVICE void unpack(const pxl_vec16& v, float* out, half)
{
#pragma unroll
    for (int i = 0; i < 4; i++)
    {
        half lo, hi;
        lo.bits = (u16)(v.w[i] & 0xffffu);
        hi.bits = (u16)(v.w[i] >> 16);
        out[2 * i] = to_float(lo);
        out[2 * i + 1] = to_float(hi);
    }
}

// Butterfly reductions: every lane of the warp ends up holding the result.
PXL_DEVICE float warp_sum(float v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(PXL_FULL_MASK, v, offset);
    return v;
}

PXL_DEVICE float warp_max(float v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(PXL_FULL_MASK, v, offset));
    return v;
}

// Block-wide reductions over threadIdx.x; every thread gets the result. blockDim.x must be a multiple of 32
// (at most 1024) and every thread of the block must call them. `scratch` is 32 floats of shared memory; it may be
// reused by the next reduction because of the trailing barrier. A one-warp block skips shared memory entirely,
// which is what lets the row kernels run either one warp or one block per row.
PXL_DEVICE float block_sum(float v, float* scratch)
{
    v = warp_sum(v);
    const int warps = blockDim.x >> 5;
    if (warps == 1) return v;
    const int lane = threadIdx.x & 31;
    if (lane == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    // Every warp reduces the partials itself, so no broadcast slot (and no extra barrier) is needed.
    v = warp_sum(lane < warps ? scratch[lane] : 0.0f);
    __syncthreads();
    return v;
}

PXL_DEVICE float block_max(float v, float* scratch)
{
    v = warp_max(v);
    const int warps = blockDim.x >> 5;
    if (warps == 1) return v;
    const int lane = threadIdx.x & 31;
    if (lane == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    v = warp_max(lane < warps ? scratch[lane] : pxl_neg_inf());
    __syncthreads();
    return v;
}

// Grid-stride index helpers for elementwise kernels over n elements (n may exceed 2^31).
#define PXL_GRID_STRIDE_LOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// V elements of T moved as one 16-byte load/store (V·sizeof(T) = 16): the vector body of the memory-bound kernels.
// Only for pointers the host (or the kernel) has checked to be 16-byte aligned.
template <typename T, int V> struct __align__(16) Pack { T v[V]; };
template <typename T> struct PackOf { static const int V = 16 / sizeof(T); typedef Pack<T, 16 / sizeof(T)> type; };
PXL_DEVICE bool pxl_aligned16(const void* p) { return ((u64)p & 15) == 0; }

// Shapes and element strides of up to 8 dims, passed to kernels by value (a .param block, no device copy needed).
#define PXL_MAX_RANK 8
struct Dims8 { i64 v[PXL_MAX_RANK]; };

// One key's additive attention bias from its query's row of the bias operand, whose strides over (b, h, query, key) are
// s.v[0..3]: the element j·s.v[3], or, when s.v[4] = Kh > 0 (AttentionOp.BiasKeyGridRows), SAM's decomposed relative
// position for a Kh × Kw key grid (Kw = s.v[5]): t[m] + t[Kh + n] for key j = (m, n), summed first like the CPU does.
template <typename T>
PXL_DEVICE float attention_bias(const T* row, i32 j, const Dims8& s)
{
    if (s.v[4] == 0) return to_float(row[j * s.v[3]]);
    const i32 kw = (i32)s.v[5], m = j / kw;
    return to_float(row[m]) + to_float(row[s.v[4] + (j - m * kw)]);
}

// Codes a kernel stores into the backend's error word when its input is invalid; the host reads the word at the next
// synchronisation and raises the matching error. The first writer wins.
#define PXL_ERR_INDEX 1      // an id / index / row outside its range
#define PXL_ERR_POSITION 2   // a WriteAt window that does not fit
#define PXL_ERR_DIV_ZERO 3   // an integer division by zero
#define PXL_ERR_STALLED 4    // a one-launch dataflow kernel's wait gave up (decoder_layer.cu): a fault, not bad input
PXL_DEVICE void pxl_fail(i32* error, i32 code) { atomicCAS(error, 0, code); }

// The selection order of ArgMax/TopK: larger first, NaN above every number (torch.argmax/topk), lower index first on
// ties (−0 and +0 tie). An index of −1 means "nothing yet" and loses to everything.
PXL_DEVICE bool pxl_better(float v1, i32 i1, float v2, i32 i2)
{
    if (i2 < 0) return i1 >= 0;
    if (i1 < 0) return false;
    const bool n1 = v1 != v1, n2 = v2 != v2;
    if (n1 || n2) return n1 && n2 ? i1 < i2 : n1;
    return v1 != v2 ? v1 > v2 : i1 < i2;
}

// One element offered to pass t of a K-pass selection (topk.cu, beam_candidates.cu), which picks the best (value, index)
// ranked strictly below pass t − 1's pick (previous_at < 0: none yet), so no "already taken" set is needed.
PXL_DEVICE void offer_below(float v, i32 i, float previous, i32 previous_at, float& best, i32& at)
{
    if ((previous_at < 0 || pxl_better(previous, previous_at, v, i)) && pxl_better(v, i, best, at)) { best = v; at = i; }
}

// Block-wide best (value, index) under pxl_better; every thread gets the result. Same rules as block_sum; `values`
// and `indices` are 32 slots of shared memory each.
PXL_DEVICE void block_best(float& v, i32& i, float* values, i32* indices)
{
    for (int offset = 16; offset > 0; offset >>= 1)
    {
        const float ov = __shfl_xor_sync(PXL_FULL_MASK, v, offset);
        const i32 oi = __shfl_xor_sync(PXL_FULL_MASK, i, offset);
        if (pxl_better(ov, oi, v, i)) { v = ov; i = oi; }
    }
    const int warps = blockDim.x >> 5;
    if (warps == 1) return;
    const int lane = threadIdx.x & 31;
    if (lane == 0) { values[threadIdx.x >> 5] = v; indices[threadIdx.x >> 5] = i; }
    __syncthreads();
    v = lane < warps ? values[lane] : 0.0f;
    i = lane < warps ? indices[lane] : -1;
    for (int offset = 16; offset > 0; offset >>= 1)
    {
        const float ov = __shfl_xor_sync(PXL_FULL_MASK, v, offset);
        const i32 oi = __shfl_xor_sync(PXL_FULL_MASK, i, offset);
        if (pxl_better(ov, oi, v, i)) { v = ov; i = oi; }
    }
    __syncthreads();
}
