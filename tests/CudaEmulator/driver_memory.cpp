// driver_memory.cpp: part of the fake CUDA driver, libcuda.so.1 (see fake_driver.h): device memory and pinned host
// memory (host allocations, filled with 0xFF), synchronous copies, and the stream-ordered copies and fills.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

#include "fake_driver.h"

namespace fake_driver {

// ---- memory (lock held) ------------------------------------------------------------------------------------------------

// Whether [p, p + bytes) lies inside one allocation: device memory, or pinned host memory (unified addressing).
bool inside_allocation_locked(uintptr_t p, size_t bytes)
{
    if (bytes == 0) return true;
    const auto& all = driver().allocations;
    auto it = all.upper_bound(p);
    if (it == all.begin()) return false;
    --it;
    return p - it->first < it->second.bytes && bytes <= it->second.bytes - (p - it->first);
}

namespace {

CUresult allocate(size_t bytes, bool device, void** out)
{
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    if (bytes > kTotalMemory) return CUDA_ERROR_OUT_OF_MEMORY;
    const size_t rounded = (bytes + kAllocationAlignment - 1) / kAllocationAlignment * kAllocationAlignment;
    Driver& d = driver();
    if (device)
    {
        std::lock_guard<std::mutex> hold(d.lock);
        if (d.device_bytes + rounded > kTotalMemory) return CUDA_ERROR_OUT_OF_MEMORY;
        d.device_bytes += rounded; // reserved now; filled outside the lock
    }
    Allocation record{bytes, rounded, device};
    void* p = nullptr;
    if (device && memcheck_enabled()) p = memcheck_allocate(bytes, record);
    else
    {
        p = std::aligned_alloc(kAllocationAlignment, rounded);
        if (p != nullptr) std::memset(p, 0xFF, rounded);
    }
    std::lock_guard<std::mutex> hold(d.lock);
    if (p == nullptr)
    {
        if (device) d.device_bytes -= rounded;
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    d.allocations[reinterpret_cast<uintptr_t>(p)] = record;
    *out = p;
    return CUDA_SUCCESS;
}

CUresult release(uintptr_t p, bool device)
{
    Driver& d = driver();
    Allocation record{};
    {
        std::lock_guard<std::mutex> hold(d.lock);
        auto it = d.allocations.find(p);
        if (it == d.allocations.end() || it->second.device != device) return CUDA_ERROR_INVALID_VALUE;
        if (device) d.device_bytes -= it->second.rounded;
        record = it->second;
        d.allocations.erase(it);
    }
    if (record.mapping != nullptr) memcheck_release(record);
    else std::free(reinterpret_cast<void*>(p));
    return CUDA_SUCCESS;
}

// cuMemcpyHtoD / cuMemcpyDtoH: a copy between host memory (not null) and device memory, whose bytes must lie in one
// allocation.
CUresult copy_synchronously(void* destination, const void* source, bool to_device, size_t bytes, const char* call)
{
    CHECK(ready_with_context());
    if (bytes == 0) return CUDA_SUCCESS;
    if ((to_device ? source : destination) == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const uintptr_t device = reinterpret_cast<uintptr_t>(to_device ? destination : source);
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (unsafe_calls_forbidden_locked())
        {
            complain("%s (synchronous) during a stream capture", call);
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
        if (!inside_allocation_locked(device, bytes)) return CUDA_ERROR_INVALID_VALUE;
    }
    std::memcpy(destination, source, bytes);
    return CUDA_SUCCESS;
}

} // namespace
} // namespace fake_driver

using namespace fake_driver;

// ==== the exported API =================================================================================================
extern "C" {

// ---- memory --------------------------------------------------------------------------------------------------------------

CUresult cuMemAlloc_v2(CUdeviceptr* pointer, size_t bytes)
{
    CHECK(ready_with_context());
    if (pointer == nullptr) return CUDA_ERROR_INVALID_VALUE;
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (unsafe_calls_forbidden_locked())
        {
            complain("cuMemAlloc during a stream capture (use cuMemAllocAsync on a stream outside it, or allocate before)");
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
    }
    void* p = nullptr;
    CHECK(allocate(bytes, true, &p));
    *pointer = reinterpret_cast<uintptr_t>(p);
    return CUDA_SUCCESS;
}

CUresult cuMemFree_v2(CUdeviceptr pointer)
{
    CHECK(ready_with_context());
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (unsafe_calls_forbidden_locked())
        {
            complain("cuMemFree during a stream capture");
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
    }
    return release(pointer, true);
}

// Stream-ordered allocation, which here is immediate. Allocation nodes are not emulated: asking on a capturing stream
// fails and invalidates the capture.
CUresult cuMemAllocAsync(CUdeviceptr* pointer, size_t bytes, CUstream stream)
{
    CHECK(ready_with_context());
    if (pointer == nullptr) return CUDA_ERROR_INVALID_VALUE;
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        Route route;
        CHECK(route_locked(stream, &route));
        if (route == Route::Record)
        {
            invalidate_locked("cuMemAllocAsync on a capturing stream (the emulator records no allocation nodes)");
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
    }
    void* p = nullptr;
    CHECK(allocate(bytes, true, &p));
    *pointer = reinterpret_cast<uintptr_t>(p);
    return CUDA_SUCCESS;
}

CUresult cuMemFreeAsync(CUdeviceptr pointer, CUstream stream)
{
    CHECK(ready_with_context());
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        Route route;
        CHECK(route_locked(stream, &route));
        if (route == Route::Record)
        {
            invalidate_locked("cuMemFreeAsync on a capturing stream (the emulator records no free nodes)");
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
    }
    return release(pointer, true);
}

CUresult cuMemGetInfo_v2(size_t* free, size_t* total)
{
    CHECK(ready_with_context());
    if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> hold(driver().lock);
    *free = kTotalMemory - driver().device_bytes;
    *total = kTotalMemory;
    return CUDA_SUCCESS;
}

CUresult cuMemAllocHost_v2(void** pointer, size_t bytes)
{
    CHECK(ready_with_context());
    if (pointer == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return allocate(bytes, false, pointer);
}

CUresult cuMemFreeHost(void* pointer)
{
    CHECK(ready_with_context());
    return release(reinterpret_cast<uintptr_t>(pointer), false);
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr destination, const void* source, size_t bytes)
{
    return copy_synchronously(reinterpret_cast<void*>(destination), source, true, bytes, "cuMemcpyHtoD");
}

CUresult cuMemcpyDtoH_v2(void* destination, CUdeviceptr source, size_t bytes)
{
    return copy_synchronously(destination, reinterpret_cast<const void*>(source), false, bytes, "cuMemcpyDtoH");
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr destination, CUdeviceptr source, size_t bytes, CUstream stream)
{
    CHECK(ready_with_context());
    if (bytes == 0) return CUDA_SUCCESS;
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (!inside_allocation_locked(destination, bytes) || !inside_allocation_locked(source, bytes)) return CUDA_ERROR_INVALID_VALUE;
    }
    Op op;
    op.kind = Op::Kind::Copy;
    op.dst = destination;
    op.src = source;
    op.bytes = bytes;
    return submit(stream, std::move(op));
}

CUresult cuMemsetD8Async(CUdeviceptr destination, unsigned char value, size_t count, CUstream stream)
{
    CHECK(ready_with_context());
    if (count == 0) return CUDA_SUCCESS;
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (!inside_allocation_locked(destination, count)) return CUDA_ERROR_INVALID_VALUE;
    }
    Op op;
    op.kind = Op::Kind::Fill;
    op.dst = destination;
    op.value = value;
    op.bytes = count;
    return submit(stream, std::move(op));
}

// ---- the older unsuffixed entry points, with their own (older) signatures ----------------------------------------------------

// 32-bit sizes: clamped.
CUresult cuMemGetInfo(unsigned* free, unsigned* total)
{
    if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
    size_t f = 0, t = 0;
    CHECK(cuMemGetInfo_v2(&f, &t));
    *free = (unsigned)std::min<size_t>(f, UINT_MAX);
    *total = (unsigned)std::min<size_t>(t, UINT_MAX);
    return CUDA_SUCCESS;
}

// A 32-bit device pointer: only an allocation below 4 GiB matches (in practice none; the backend binds cuMemFree_v2).
CUresult cuMemFree(CUdeviceptr_v1 pointer) { return cuMemFree_v2(pointer); }

} // extern "C"
