// driver_device.cpp: part of the fake CUDA driver, libcuda.so.1 (see fake_driver.h): the error codes' names and texts,
// cuInit, the one device and its attributes, and the primary context, current per thread.
#include <algorithm>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "fake_driver.h"

namespace fake_driver {
namespace {

// ---- the device ----------------------------------------------------------------------------------------------------

// The multiprocessor count: PIXELLLM_EMULATOR_SMS when it is an integer from 1 to 132, else 4 (with a warning when it
// is set to anything else). Read once.
int multiprocessor_count()
{
    static const int count = [] {
        const char* text = std::getenv("PIXELLLM_EMULATOR_SMS");
        if (text == nullptr) return 4;
        const size_t length = std::strlen(text);
        const bool digits = length >= 1 && length <= 3 && std::strspn(text, "0123456789") == length;
        const int value = digits ? std::atoi(text) : 0;
        if (value >= 1 && value <= 132) return value;
        complain("PIXELLLM_EMULATOR_SMS=\"%s\" is not an integer from 1 to 132; the device reports 4 multiprocessors",
                 text);
        return 4;
    }();
    return count;
}

// cuDeviceGetAttribute: what an H100-class device reports, except the multiprocessor count. Anything else reads 0.
int device_attribute(int attribute)
{
    switch (attribute)
    {
    case 1: return 1024;                // MAX_THREADS_PER_BLOCK
    case 2: return 1024;                // MAX_BLOCK_DIM_X
    case 3: return 1024;                // MAX_BLOCK_DIM_Y
    case 4: return 64;                  // MAX_BLOCK_DIM_Z
    case 5: return 2147483647;          // MAX_GRID_DIM_X
    case 6: return 65535;               // MAX_GRID_DIM_Y
    case 7: return 65535;               // MAX_GRID_DIM_Z
    case 8: return kDefaultSharedPerBlock; // MAX_SHARED_MEMORY_PER_BLOCK
    case 9: return 65536;               // TOTAL_CONSTANT_MEMORY
    case 10: return 32;                 // WARP_SIZE
    case 11: return 2147483647;         // MAX_PITCH
    case 12: return 65536;              // MAX_REGISTERS_PER_BLOCK
    case 13: return 1980000;            // CLOCK_RATE (kHz)
    case 14: return 512;                // TEXTURE_ALIGNMENT
    case 15: return 1;                  // GPU_OVERLAP
    case 16: return multiprocessor_count(); // MULTIPROCESSOR_COUNT
    case 17: return 0;                  // KERNEL_EXEC_TIMEOUT
    case 18: return 0;                  // INTEGRATED
    case 19: return 1;                  // CAN_MAP_HOST_MEMORY
    case 20: return 0;                  // COMPUTE_MODE (default)
    case 30: return 512;                // SURFACE_ALIGNMENT
    case 31: return 1;                  // CONCURRENT_KERNELS
    case 32: return 1;                  // ECC_ENABLED
    case 36: return 2619000;            // MEMORY_CLOCK_RATE (kHz)
    case 37: return 5120;               // GLOBAL_MEMORY_BUS_WIDTH (bits)
    case 38: return 50 << 20;           // L2_CACHE_SIZE
    case 39: return 2048;               // MAX_THREADS_PER_MULTIPROCESSOR
    case 40: return 2;                  // ASYNC_ENGINE_COUNT
    case 41: return 1;                  // UNIFIED_ADDRESSING
    case 75: return 9;                  // COMPUTE_CAPABILITY_MAJOR
    case 76: return 0;                  // COMPUTE_CAPABILITY_MINOR
    case 78: return 1;                  // STREAM_PRIORITIES_SUPPORTED
    case 79: return 1;                  // GLOBAL_L1_CACHE_SUPPORTED
    case 80: return 1;                  // LOCAL_L1_CACHE_SUPPORTED
    case 81: return 233472;             // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
    case 82: return 65536;              // MAX_REGISTERS_PER_MULTIPROCESSOR
    case 83: return 1;                  // MANAGED_MEMORY
    case 95: return 1;                  // COOPERATIVE_LAUNCH
    case 97: return kMaxSharedPerBlockOptIn; // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
    case 106: return 32;                // MAX_BLOCKS_PER_MULTIPROCESSOR
    case 108: return 32 << 20;          // MAX_PERSISTING_L2_CACHE_SIZE
    case 109: return 134213632;         // MAX_ACCESS_POLICY_WINDOW_SIZE
    case 111: return 1024;              // RESERVED_SHARED_MEMORY_PER_BLOCK
    case 115: return 1;                 // MEMORY_POOLS_SUPPORTED
    case 120: return 1;                 // CLUSTER_LAUNCH
    default: return 0;
    }
}

struct ErrorText
{
    CUresult code;
    const char* name;
    const char* text;
};

constexpr ErrorText kErrors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "an argument is out of range"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of device memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "cuInit has not been called"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "no such device"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "the module image is not an emulated module"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "no current context on this thread"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "the handle is not a live object of this driver"},
    {CUDA_ERROR_ILLEGAL_STATE, "CUDA_ERROR_ILLEGAL_STATE", "the operation is not allowed in the current state"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "no such symbol in the module"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "a copy or fill left its allocation"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "an emulated kernel failed"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "not supported by the emulator"},
    {CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "not permitted while a stream is capturing"},
    {CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "the capture was invalidated by an earlier error"},
    {CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED", "the capture was not begun on this stream"},
    {CUDA_ERROR_STREAM_CAPTURE_UNJOINED, "CUDA_ERROR_STREAM_CAPTURE_UNJOINED", "a stream forked into the capture was not joined back"},
    {CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT", "the legacy stream would wait on a capturing stream"},
    {CUDA_ERROR_CAPTURED_EVENT, "CUDA_ERROR_CAPTURED_EVENT", "the event was last recorded in a capturing stream"},
    {CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD", "the capture was begun on another thread"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const ErrorText* find_error(CUresult code)
{
    for (const ErrorText& e : kErrors)
        if (e.code == code) return &e;
    return nullptr;
}

CUctx_st primary_context{0};
thread_local CUcontext current_context = nullptr;

} // namespace

__attribute__((format(printf, 1, 2))) void complain(const char* format, ...)
{
    char line[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    std::fprintf(stderr, "[fake libcuda] %s\n", line);
}

// Never destroyed, so late calls during process exit (finalizers) still find it.
Driver& driver()
{
    static Driver* d = new Driver;
    return *d;
}

CUresult ready() { return driver().initialized ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED; }

CUresult ready_with_context()
{
    if (!driver().initialized) return CUDA_ERROR_NOT_INITIALIZED;
    return current_context == nullptr ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

// Keeps `text` as the message cuGetErrorString gives for `code`, prints it, and returns `code`.
CUresult fail_with(CUresult code, const std::string& text)
{
    std::fprintf(stderr, "[fake libcuda] %s\n", text.c_str());
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    d.details[code] = d.failure_texts.insert(text).first->c_str();
    return code;
}

} // namespace fake_driver

using namespace fake_driver;

// ==== the exported API =================================================================================================
extern "C" {

// ---- errors, initialisation, device ------------------------------------------------------------------------------------

CUresult cuGetErrorName(CUresult error, const char** name)
{
    if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const ErrorText* e = find_error(error);
    *name = e != nullptr ? e->name : nullptr;
    return e != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char** text)
{
    if (text == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const ErrorText* e = find_error(error);
    if (e == nullptr)
    {
        *text = nullptr;
        return CUDA_ERROR_INVALID_VALUE;
    }
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    auto detail = d.details.find(error);
    *text = detail != d.details.end() ? detail->second : e->text;
    return CUDA_SUCCESS;
}

CUresult cuInit(unsigned flags)
{
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    driver().initialized = true;
    return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int* version)
{
    if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *version = kDriverVersion;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int* count)
{
    CHECK(ready());
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *count = 1;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice* device, int ordinal)
{
    CHECK(ready());
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int* value, int attribute, CUdevice device)
{
    CHECK(ready());
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    *value = device_attribute(attribute);
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char* name, int length, CUdevice device)
{
    CHECK(ready());
    if (name == nullptr || length <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::snprintf(name, (size_t)length, "%s", kDeviceName);
    return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice device)
{
    CHECK(ready());
    if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = kTotalMemory;
    return CUDA_SUCCESS;
}

// ---- contexts: one primary context; "current" is per thread --------------------------------------------------------------

CUresult cuDevicePrimaryCtxRetain(CUcontext* context, CUdevice device)
{
    CHECK(ready());
    if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> hold(driver().lock);
    driver().primary_retains++;
    *context = &primary_context;
    return CUDA_SUCCESS;
}

// The context is never torn down (its memory, modules and streams stay valid): a test double only counts.
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device)
{
    CHECK(ready());
    if (device != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::lock_guard<std::mutex> hold(driver().lock);
    if (driver().primary_retains == 0) return CUDA_ERROR_INVALID_CONTEXT;
    driver().primary_retains--;
    return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext context)
{
    CHECK(ready());
    if (context != nullptr && context != &primary_context) return CUDA_ERROR_INVALID_CONTEXT;
    current_context = context;
    return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext* context)
{
    CHECK(ready());
    if (context == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *context = current_context;
    return CUDA_SUCCESS;
}

// ---- the older unsuffixed entry points, with their own (older) signatures ----------------------------------------------------

CUresult cuDevicePrimaryCtxRelease(CUdevice device) { return cuDevicePrimaryCtxRelease_v2(device); }

// 32-bit sizes: clamped.
CUresult cuDeviceTotalMem(unsigned* bytes, CUdevice device)
{
    if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    size_t total = 0;
    CHECK(cuDeviceTotalMem_v2(&total, device));
    *bytes = (unsigned)std::min<size_t>(total, UINT_MAX);
    return CUDA_SUCCESS;
}

} // extern "C"
