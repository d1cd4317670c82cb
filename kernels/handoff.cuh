// The acquire/release hand-off of the one-launch dataflow kernels (decoder_layer.cu, decoder_layer_stream.cu, mlp.cu):
// blocks take tickets in order and a block only ever waits on smaller tickets, held by blocks already running.
// Producers store, barrier, then one thread fences and adds to their phase's count; consumers spin on an acquire load
// of that count, then read what was produced with plain loads: the acquire and the barrier after it order them after
// the producers' release (PTX memory model). Volatile L2-only loads measured slower (run 10): they cannot be batched.
#pragma once
#include "prelude.cuh"

// The last of `blocks` blocks out leaves the launch's `count` counters at zero for the next launch: every other block
// has made its last count (and taken its last ticket) by then. The last counter counts the finished blocks.
PXL_DEVICE void dl_finish_counters(i32* counters, i32 count, i32 blocks)
{
    if (threadIdx.x != 0) return;
    __threadfence();
    if (atomicAdd(counters + count - 1, 1) == blocks - 1)
    {
        for (i32 i = 0; i < count; i++) counters[i] = 0;
        __threadfence();
    }
}

// Block-wide: wait until *counter ≥ target (thread 0 spins on an acquire load, the barrier releases the rest). A wait
// that outlasts DL_STALL_NS reports PXL_ERR_STALLED and gives up, so a fault raises an error instead of hanging the device.
#ifdef PXL_EMULATION
#define DL_STALL_NS 600000000000ull // tests/CudaEmulator: blocks emulated on a few cores take far longer
#else
#define DL_STALL_NS 2000000000ull
#endif

PXL_DEVICE void dl_wait(const i32* counter, i32 target, i32* error)
{
    if (threadIdx.x == 0)
    {
        const u64 start = pxl_now_ns();
        for (;;)
        {
            i32 seen;
#ifdef PXL_EMULATION
            seen = pxlemu_load_acquire(counter);
#else
            asm volatile("ld.acquire.gpu.global.s32 %0, [%1];" : "=r"(seen) : "l"(counter) : "memory");
#endif
            if (seen >= target) break;
            if (pxl_now_ns() - start > DL_STALL_NS)
            {
                pxl_fail(error, PXL_ERR_STALLED);
                break;
            }
#ifdef PXL_EMULATION
            pxlemu_yield();
#else
            asm volatile("nanosleep.u32 64;");
#endif
        }
    }
    __syncthreads();
}

// Block-wide: this block's stores are visible device-wide before the count says so. The barrier orders every thread's
// stores before thread 0's fence, and a fence is cumulative, so one fence serves the block (cooperative groups' grid sync
// relies on the same pattern); a fence in every thread cost each tile of decoder_layer_stream.cu 256 of them.
PXL_DEVICE void dl_signal(i32* counter)
{
    __syncthreads();
    if (threadIdx.x == 0)
    {
        __threadfence();
        atomicAdd(counter, 1);
    }
}
