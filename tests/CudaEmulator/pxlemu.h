// The ABI between the three parts of the CUDA emulator (see README.md): the emulated kernel modules the fake NVRTC
// builds, the runtime that runs a grid of them (libpxlemu.so), and the fake driver (libcuda.so.1) that loads modules and
// launches. Plain C so each part can be built on its own.
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// One __global__ function of an emulated module.
// What the fake driver tells of each kernel it ran (pxlemu_set_kernel_observer, driver_streams.cpp): name, start and end
// on the host's steady clock in ns, grid and block.
typedef void (*PxlemuKernelObserver)(const char* name, unsigned long long start_ns, unsigned long long end_ns, const unsigned grid[3],
                                     const unsigned block[3]);

typedef struct PxlemuKernel
{
    const char* name;                           // the extern "C" name cuModuleGetFunction asks for
    int arg_count;
    const size_t* arg_sizes;                    // bytes of each parameter, in order (what a launch must copy to keep them)
    void* function;                             // the kernel, compiled for the host
    void (*invoke)(void* function, void** args); // calls function(*(A0*)args[0], *(A1*)args[1], ...) as the current thread
} PxlemuKernel;

// Every module exports this: its kernels, and how many.
typedef int (*PxlemuModuleKernelsFn)(const PxlemuKernel** kernels);
#define PXLEMU_MODULE_SYMBOL "pxlemu_module_kernels"

// What the fake NVRTC returns as PTX or CUBIN and the fake driver's cuModuleLoadData reads: this prefix, the module's
// absolute path, '\n', then a terminating '\0'.
#define PXLEMU_IMAGE_MAGIC "PXLEMU-MODULE "

// libpxlemu.so: runs every block of the grid to completion (blocks as host threads, a block's threads as fibers). Returns
// 0, or nonzero with a one-line reason in error (a thread that trapped, a block that waits forever, a bad launch shape).
int pxlemu_run_grid(const PxlemuKernel* kernel, void** args, unsigned grid_x, unsigned grid_y, unsigned grid_z,
                    unsigned block_x, unsigned block_y, unsigned block_z, size_t dynamic_shared_bytes, char* error,
                    size_t error_size);

// libpxlemu.so: the calling CUDA thread fails its grid with this reason (a device trap); does not return.
void pxlemu_trap(const char* why);

// libcuda.so.1 (driver_streams.cpp): runs `work(data)` on `stream` now, or, while the stream is being captured, records it
// (with a copy of `bytes` bytes of data) for every replay of the graph. How the fake cuBLAS(Lt) puts its GEMMs in graphs.
// A failing work returns 719 (launch failed) with "emulated <what> failed: <reason>".
int pxlemu_stream_enqueue(void* stream, const char* what, int (*work)(const void* data, char* error, size_t error_size),
                          const void* data, size_t bytes);

#ifdef __cplusplus
}
#endif
