#!/usr/bin/env python3
"""Does a block's hand-off fence wait for its own cp.async copies still in flight? A device probe, seconds long.

The dataflow kernels (decoder_layer_stream.cu, decoder_layer.cu, mlp.cu) hand a phase on with handoff.cuh's dl_signal:
a barrier, then thread 0 fences (membar.gl) and adds to a counter. In decoder_layer_stream.cu every thread, thread 0
included, always has the copies of the next DS_STAGES - 1 weight tiles in flight when it signals. If the fence waits for
those copies, every tile's hand-off costs a DRAM round trip and the pipeline is one tile deep, whatever DS_STAGES says.
The PTX ISA leaves it to the hardware. This measures it on the device: a persistent grid streams 1 GiB through shared
memory with cp.async, DS_STAGES tiles of 32 KB in flight per block as that kernel keeps them, and after every tile
  none     signals nothing (the streaming rate alone);
  fence    thread 0 fences and counts, as dl_signal does, its own copies in flight;
  control  a ninth warp that copies nothing fences and counts (the alternative: a block's signalling thread without
           copies of its own in flight).
It prints, per mode, the bandwidth and the cycles thread 0's (or the control warp's) fence + atomic took per tile.

Needs only the driver (libcuda.so.1) and NVRTC (libnvrtc.so.13/.12/.11.2) through ctypes: no toolkit, no PyTorch.
    python3 fence_probe.py [--json FILE] [--mib 1024] [--tiles 256]
"""
import argparse
import ctypes
import json
import sys

SOURCE = r"""
#define STAGES 3
#define VECTORS 8   // 16-byte vectors a copying thread moves per tile: 256 threads x 8 x 16 B = 32 KB
#define COPIERS 256
typedef unsigned long long u64;
struct __align__(16) vec16 { unsigned int w[4]; };

__device__ __forceinline__ unsigned int smem_address(const void* p)
{
    unsigned int a;
    asm("{ .reg .u64 g; cvta.to.shared.u64 g, %1; cvt.u32.u64 %0, g; }" : "=r"(a) : "l"(p));
    return a;
}

// Tile t of this block into stage slot t % STAGES, one cp.async group (empty for the control warp).
__device__ __forceinline__ void request(const vec16* src, long long span, long long tile, vec16* stage)
{
    const int tid = threadIdx.x;
    if (tid < COPIERS)
    {
        vec16* slot = stage + (tile % STAGES) * (COPIERS * VECTORS);
        const long long base = ((long long)blockIdx.x * 7919 + tile) * (COPIERS * VECTORS);
#pragma unroll
        for (int v = 0; v < VECTORS; v++)
        {
            const vec16* from = src + (base + v * COPIERS + tid) % span;
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(smem_address(slot + v * COPIERS + tid)), "l"(from) : "memory");
        }
    }
    asm volatile("cp.async.commit_group;" ::: "memory");
}

// mode 0: no signal; 1: thread 0 fences and counts; 2: thread COPIERS (a warp without copies) fences and counts.
extern "C" __global__ void __launch_bounds__(COPIERS + 32) fence_probe(const vec16* src, long long span, int tiles, int mode,
                                                                       int* counter, u64* out)
{
    extern __shared__ __align__(16) vec16 stage[];
    const int tid = threadIdx.x;
    const int signaller = mode == 2 ? COPIERS : 0;
    unsigned int sink = 0;
    u64 signal_cycles = 0;
    for (int t = 0; t < STAGES; t++) request(src, span, t, stage);
    for (int t = 0; t < tiles; t++)
    {
        asm volatile("cp.async.wait_group %0;" :: "n"(STAGES - 1) : "memory");
        __syncthreads();
        if (tid < COPIERS)
        {
            const vec16* slot = stage + (t % STAGES) * (COPIERS * VECTORS);
#pragma unroll
            for (int v = 0; v < VECTORS; v++) sink ^= slot[v * COPIERS + tid].w[tid & 3];
        }
        __syncthreads();
        if (mode != 0 && tid == signaller)
        {
            const u64 start = clock64();
            __threadfence();
            atomicAdd(counter, 1);
            signal_cycles += clock64() - start;
        }
        __syncthreads();
        request(src, span, t + STAGES, stage);
    }
    asm volatile("cp.async.wait_all;" ::: "memory");
    if (tid == signaller) out[2 * blockIdx.x] = signal_cycles;
    if (sink == 0x9e3779b9u) out[2 * blockIdx.x + 1] = sink; // keeps the reads; practically never true
}
"""

COPIERS, VECTORS, STAGES = 256, 8, 3
TILE_BYTES = COPIERS * VECTORS * 16


def load(names):
    for n in names:
        try:
            return ctypes.CDLL(n)
        except OSError:
            continue
    raise SystemExit(f"fence_probe: none of {names} loads")


def check(status, what):
    if status != 0:
        raise SystemExit(f"fence_probe: {what} failed with status {status}")


def compile_cubin_or_ptx(nvrtc, arch):
    prog = ctypes.c_void_p()
    check(nvrtc.nvrtcCreateProgram(ctypes.byref(prog), SOURCE.encode(), b"fence_probe.cu", 0, None, None), "nvrtcCreateProgram")
    opts = [f"--gpu-architecture=sm_{arch}".encode(), b"-std=c++17"]
    status = nvrtc.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
    if status != 0:
        size = ctypes.c_size_t()
        nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetProgramLog(prog, log)
        raise SystemExit(f"fence_probe: NVRTC: {log.value.decode(errors='replace')}")
    size = ctypes.c_size_t()
    if hasattr(nvrtc, "nvrtcGetCUBINSize") and nvrtc.nvrtcGetCUBINSize(prog, ctypes.byref(size)) == 0 and size.value > 0:
        image = ctypes.create_string_buffer(size.value)
        check(nvrtc.nvrtcGetCUBIN(prog, image), "nvrtcGetCUBIN")
        return image.raw
    check(nvrtc.nvrtcGetPTXSize(prog, ctypes.byref(size)), "nvrtcGetPTXSize")
    image = ctypes.create_string_buffer(size.value)
    check(nvrtc.nvrtcGetPTX(prog, image), "nvrtcGetPTX")
    return image.raw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--mib", type=int, default=1024, help="source buffer (larger than L2, so tiles come from DRAM)")
    ap.add_argument("--tiles", type=int, default=256, help="tiles per block and launch")
    ap.add_argument("--compile-only", metavar="ARCH", help="compile for sm_ARCH and stop (no driver needed)")
    a = ap.parse_args()
    nvrtc = load(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"])
    if a.compile_only:
        print(f"fence_probe: compiled for sm_{a.compile_only}, {len(compile_cubin_or_ptx(nvrtc, a.compile_only))} bytes")
        return 0

    cu = load(["libcuda.so.1"])
    check(cu.cuInit(0), "cuInit")
    dev, ctx = ctypes.c_int(), ctypes.c_void_p()
    check(cu.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
    check(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), "cuDevicePrimaryCtxRetain")
    check(cu.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
    attr = lambda n: (lambda v: (check(cu.cuDeviceGetAttribute(ctypes.byref(v), n, dev), f"attribute {n}"), v.value)[1])(ctypes.c_int())
    sms, major, minor = attr(16), attr(75), attr(76)  # MULTIPROCESSOR_COUNT, COMPUTE_CAPABILITY_MAJOR/MINOR
    name = ctypes.create_string_buffer(256)
    cu.cuDeviceGetName(name, 256, dev)

    image = compile_cubin_or_ptx(nvrtc, f"{major}{minor}")
    module, fn = ctypes.c_void_p(), ctypes.c_void_p()
    check(cu.cuModuleLoadData(ctypes.byref(module), image), "cuModuleLoadData")
    check(cu.cuModuleGetFunction(ctypes.byref(fn), module, b"fence_probe"), "cuModuleGetFunction")
    shared = STAGES * TILE_BYTES
    check(cu.cuFuncSetAttribute(fn, 8, shared), "cuFuncSetAttribute(max dynamic shared)")  # MAX_DYNAMIC_SHARED_SIZE_BYTES

    blocks = 2 * sms
    span = a.mib * 1024 * 1024 // 16
    src, counter, out = ctypes.c_uint64(), ctypes.c_uint64(), ctypes.c_uint64()
    check(cu.cuMemAlloc_v2(ctypes.byref(src), ctypes.c_size_t(span * 16)), "cuMemAlloc(src)")
    check(cu.cuMemsetD8_v2(src, 1, ctypes.c_size_t(span * 16)), "cuMemset(src)")
    check(cu.cuMemAlloc_v2(ctypes.byref(counter), ctypes.c_size_t(4)), "cuMemAlloc(counter)")
    check(cu.cuMemAlloc_v2(ctypes.byref(out), ctypes.c_size_t(16 * blocks)), "cuMemAlloc(out)")
    start, stop = ctypes.c_void_p(), ctypes.c_void_p()
    check(cu.cuEventCreate(ctypes.byref(start), 0), "cuEventCreate")
    check(cu.cuEventCreate(ctypes.byref(stop), 0), "cuEventCreate")

    def launch(mode):
        args = [ctypes.c_uint64(src.value), ctypes.c_int64(span), ctypes.c_int(a.tiles), ctypes.c_int(mode),
                ctypes.c_uint64(counter.value), ctypes.c_uint64(out.value)]
        pointers = (ctypes.c_void_p * len(args))(*[ctypes.cast(ctypes.pointer(x), ctypes.c_void_p) for x in args])
        check(cu.cuMemsetD8_v2(out, 0, ctypes.c_size_t(16 * blocks)), "cuMemset(out)")
        check(cu.cuEventRecord(start, None), "cuEventRecord")
        check(cu.cuLaunchKernel(fn, blocks, 1, 1, COPIERS + 32, 1, 1, shared, None, pointers, None), "cuLaunchKernel")
        check(cu.cuEventRecord(stop, None), "cuEventRecord")
        check(cu.cuEventSynchronize(stop), "cuEventSynchronize")
        ms = ctypes.c_float()
        check(cu.cuEventElapsedTime(ctypes.byref(ms), start, stop), "cuEventElapsedTime")
        host = (ctypes.c_uint64 * (2 * blocks))()
        check(cu.cuMemcpyDtoH_v2(host, out, ctypes.c_size_t(16 * blocks)), "cuMemcpyDtoH")
        cycles = sum(host[2 * b] for b in range(blocks)) / blocks / a.tiles
        return ms.value, cycles

    results = {"device": name.value.decode(), "sm": f"{major}{minor}", "blocks": blocks, "tile_bytes": TILE_BYTES,
               "stages": STAGES, "tiles_per_block": a.tiles, "modes": {}}
    total_bytes = blocks * (a.tiles + STAGES) * TILE_BYTES
    for mode, label in ((0, "none"), (1, "fence"), (2, "control")):
        launch(mode)  # warm-up
        best = min((launch(mode) for _ in range(3)), key=lambda r: r[0])
        results["modes"][label] = {"ms": best[0], "gb_per_s": total_bytes / best[0] / 1e6, "signal_cycles_per_tile": best[1]}
        print(f"  {label:8s} {best[0]:8.3f} ms  {total_bytes / best[0] / 1e6:8.1f} GB/s  signal {best[1]:8.0f} cycles a tile")
    m = results["modes"]
    verdict = ("waits for its copies" if m["fence"]["gb_per_s"] < 0.8 * m["none"]["gb_per_s"]
               and m["control"]["gb_per_s"] > 0.9 * m["none"]["gb_per_s"] else "does not wait for its copies"
               if m["fence"]["gb_per_s"] > 0.9 * m["none"]["gb_per_s"] else "costs bandwidth either way")
    results["verdict"] = verdict
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    print(f"fence_probe {results['device']}: the hand-off fence {verdict} (stream {m['none']['gb_per_s']:.0f} GB/s, "
          f"with thread 0's fence {m['fence']['gb_per_s']:.0f}, with a copy-free signaller {m['control']['gb_per_s']:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
