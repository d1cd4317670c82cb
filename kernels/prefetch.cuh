// Weight prefetch into L2 for the decode step's GEMVs and layer kernels (PIXELLLM_PREFETCH_L2, host: WeightStream and
// CudaOps.T5DecoderStack). A decode step is ~200 short launches, each streaming 8-42 MB of weights; between two
// launches (the gap, the ramp to full bandwidth, the tail of the last blocks, the attention kernels in between) DRAM
// idles, which is why 8 MB GEMVs run at 1.0-1.5 TB/s of the 4.2 the copy reaches. Each launch therefore asks L2 for the
// weights the launches after it will read, so DRAM keeps streaming through those gaps and the later launch reads L2.
// The host keeps the requested window a fixed number of bytes ahead and gives each launch only the part of it that is
// new, so a launch requests about as many bytes as it reads. The window plus the lines the running launch has read must
// fit L2 (50 MB on H100/H200; the gated launch reads 42 MB), hence a lookahead of a few launches, not more.
// decoder_layer.cu (a layer in one launch, beams) does the same inside the launch: the blocks of each product phase
// request the next product phase's weights, and the last phase the next layer's q, k and v (as much of them as the
// lookahead allows). Own loads marked evict-first would protect the window better, but either form (a second load
// instruction or a cache-policy operand) made ptxas spill the GEMVs.
#pragma once
#include "prelude.cuh"

#define PXL_PREFETCH_RANGES 6

// Byte ranges to request, by value (96 bytes; the host's PrefetchRanges). Empty ranges (bytes 0) are skipped.
struct PxlPrefetch
{
    u64 address[PXL_PREFETCH_RANGES];
    i64 bytes[PXL_PREFETCH_RANGES];
};

// Thread `me` of `threads` requests every (threads · 32)-th 32-byte sector of [address, address + bytes): a warp's 32
// requests are 1 KB in a row, which the coalescer turns into eight whole 128-byte lines. Nothing waits for them. Not
// inlined, so that its registers never add to its caller's (inlined, the GEMVs' register heuristics tipped into spills).
__device__ __noinline__ void pxl_prefetch_span(u64 address, i64 bytes, i64 me, i64 threads)
{
#ifndef PXL_EMULATION // (tests/CudaEmulator: a hint with no effect on results)
    for (i64 at = me * 32; at < bytes; at += threads * 32) asm volatile("prefetch.global.L2 [%0];" :: "l"(address + at));
#endif
}

// Every range of `p`, spread over every thread of the grid.
PXL_DEVICE void pxl_prefetch_l2(const PxlPrefetch& p)
{
    const i64 threads = (i64)gridDim.x * gridDim.y * gridDim.z * blockDim.x;
    const i64 me = (((i64)blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x) * blockDim.x + threadIdx.x;
#pragma unroll
    for (int r = 0; r < PXL_PREFETCH_RANGES; r++)
        if (p.bytes[r] > 0) pxl_prefetch_span(p.address[r], p.bytes[r], me, threads);
}

// Share `part` of `parts` equal shares of [address, address + bytes), in whole lines, by this block's threads: the
// blocks of one phase of a layer kernel together request a later phase's weights.
PXL_DEVICE void pxl_prefetch_share(u64 address, i64 bytes, i32 part, i32 parts)
{
    const i64 lo = bytes * part / parts / 128 * 128, hi = part + 1 == parts ? bytes : bytes * (part + 1) / parts / 128 * 128;
    if (hi > lo) pxl_prefetch_span(address + lo, hi - lo, threadIdx.x, blockDim.x);
}
