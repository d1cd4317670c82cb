// driver_streams.cpp: part of the fake CUDA driver, libcuda.so.1 (see fake_driver.h): running queued work (kernels,
// copies, fills, host work, replayed graphs) on the calling thread, streams and events, and the emulator's extension
// pxlemu_stream_enqueue.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "fake_driver.h"

namespace fake_driver {

// ---- running work (lock not held) --------------------------------------------------------------------------------------

namespace {

std::atomic<PxlemuKernelObserver> kernel_observer{nullptr};

unsigned long long now_ns()
{
    return static_cast<unsigned long long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

} // namespace

CUresult run_grid(const PxlemuKernel* kernel, void** args, const unsigned grid[3], const unsigned block[3], size_t shared)
{
    char why[512] = "";
    PxlemuKernelObserver observer = kernel_observer.load();
    unsigned long long start = observer != nullptr ? now_ns() : 0;
    int failed = pxlemu_run_grid(kernel, args, grid[0], grid[1], grid[2], block[0], block[1], block[2], shared, why, sizeof why);
    if (observer != nullptr) observer(kernel->name, start, now_ns(), grid, block);
    if (failed == 0) return CUDA_SUCCESS;
    return fail_with(CUDA_ERROR_LAUNCH_FAILED,
                     std::string("emulated kernel ") + kernel->name + " failed: " + (why[0] != 0 ? why : "no reason given"));
}

CUresult run_host_work(const char* name, HostWork work, const void* data)
{
    char why[512] = "";
    if (work(data, why, sizeof why) == 0) return CUDA_SUCCESS;
    return fail_with(CUDA_ERROR_LAUNCH_FAILED,
                     std::string("emulated ") + name + " failed: " + (why[0] != 0 ? why : "no reason given"));
}

namespace {

// A graph's copy or fill: its allocation may have been freed since it was recorded.
CUresult check_replayed_range(const char* what, CUdeviceptr p, size_t bytes)
{
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (inside_allocation_locked(p, bytes)) return CUDA_SUCCESS;
    }
    char text[160];
    std::snprintf(text, sizeof text, "graph replay: %s of %zu bytes at 0x%llx is outside every live allocation", what, bytes, p);
    return fail_with(CUDA_ERROR_ILLEGAL_ADDRESS, text);
}

CUresult execute(const Op& op)
{
    switch (op.kind)
    {
    case Op::Kind::Kernel:
    {
        std::vector<void*> args(op.offsets.size());
        char* values = static_cast<char*>(const_cast<void*>(op.values.data())); // the runtime only reads them
        for (size_t i = 0; i < args.size(); i++) args[i] = values + op.offsets[i];
        return run_grid(op.kernel, args.empty() ? nullptr : args.data(), op.grid, op.block, op.shared);
    }
    case Op::Kind::Copy:
        CHECK(check_replayed_range("copy source", op.src, op.bytes));
        CHECK(check_replayed_range("copy destination", op.dst, op.bytes));
        std::memmove(reinterpret_cast<void*>(op.dst), reinterpret_cast<const void*>(op.src), op.bytes);
        return CUDA_SUCCESS;
    case Op::Kind::Fill:
        CHECK(check_replayed_range("fill", op.dst, op.bytes));
        std::memset(reinterpret_cast<void*>(op.dst), op.value, op.bytes);
        return CUDA_SUCCESS;
    case Op::Kind::Host: return run_host_work(op.name.c_str(), op.work, op.values.data());
    case Op::Kind::HostFunc: op.host_fn(op.user); return CUDA_SUCCESS;
    case Op::Kind::Graph: return replay(*op.child);
    }
    return CUDA_ERROR_UNKNOWN;
}

} // namespace

CUresult replay(const std::vector<Op>& ops)
{
    for (const Op& op : ops) CHECK(execute(op));
    return CUDA_SUCCESS;
}

// Queues `op` on `s` (the lock is taken here): recorded into the capture, or run now.
CUresult submit(CUstream s, Op&& op)
{
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        Route route;
        CHECK(route_locked(s, &route));
        if (route == Route::Record)
        {
            record_locked(s, std::move(op));
            return CUDA_SUCCESS;
        }
    }
    return execute(op);
}

} // namespace fake_driver

using namespace fake_driver;

// ==== the exported API =================================================================================================
extern "C" {

// ---- streams and events ----------------------------------------------------------------------------------------------------

CUresult cuStreamCreate(CUstream* stream, unsigned flags)
{
    CHECK(ready_with_context());
    if (stream == nullptr || (flags & ~kStreamNonBlocking) != 0) return CUDA_ERROR_INVALID_VALUE;
    CUstream s = new CUstream_st{flags};
    std::lock_guard<std::mutex> hold(driver().lock);
    driver().streams.insert(s);
    *stream = s;
    return CUDA_SUCCESS;
}

// Destroying a stream in the capture invalidates it; destroying its origin ends it (nothing can end it otherwise).
CUresult cuStreamDestroy_v2(CUstream stream)
{
    CHECK(ready_with_context());
    {
        Driver& d = driver();
        std::lock_guard<std::mutex> hold(d.lock);
        if (is_default_stream(stream) || d.streams.erase(stream) == 0) return CUDA_ERROR_INVALID_HANDLE;
        Capture& c = d.capture;
        if (c.active && c.origin == stream)
        {
            complain("the origin stream of an active capture was destroyed; the capture is discarded");
            end_capture_locked(nullptr);
        }
        else if (c.active && c.tips.erase(stream) != 0)
            invalidate_locked("a stream in the capture was destroyed");
    }
    delete stream;
    return CUDA_SUCCESS;
}

CUresult cuStreamSynchronize(CUstream stream)
{
    CHECK(ready_with_context());
    std::lock_guard<std::mutex> hold(driver().lock);
    if (!is_stream_locked(stream)) return CUDA_ERROR_INVALID_HANDLE;
    const Capture& c = driver().capture;
    if (c.active && c.tips.count(stream) != 0)
    {
        invalidate_locked("cuStreamSynchronize on a capturing stream");
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    if (c.active && is_legacy_stream(stream) && c.has_blocking_stream)
    {
        invalidate_locked("cuStreamSynchronize on the legacy stream waits for a blocking stream in the capture");
        return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
    return CUDA_SUCCESS; // everything already ran
}

// Outside a capture, a no-op (work ran in issue order). Inside one, a stream that waits on an event recorded in the
// capture joins it (the fork), or takes on that event's dependencies (the join).
CUresult cuStreamWaitEvent(CUstream stream, CUevent event, unsigned flags)
{
    CHECK(ready_with_context());
    if ((flags & ~1u) != 0) return CUDA_ERROR_INVALID_VALUE;
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    if (!is_stream_locked(stream) || d.events.count(event) == 0) return CUDA_ERROR_INVALID_HANDLE;
    Capture& c = d.capture;
    if (!c.active || event->capture != c.id) return CUDA_SUCCESS;
    if (is_default_stream(stream))
    {
        invalidate_locked("a default stream waited on an event of the capture");
        return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
    if (c.invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    join_locked(stream, event->capture_tips);
    return CUDA_SUCCESS;
}

CUresult cuEventCreate(CUevent* event, unsigned flags)
{
    CHECK(ready_with_context());
    if (event == nullptr || (flags & ~kEventFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
    CUevent e = new CUevent_st{};
    e->flags = flags;
    std::lock_guard<std::mutex> hold(driver().lock);
    driver().events.insert(e);
    *event = e;
    return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent event, CUstream stream)
{
    CHECK(ready_with_context());
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    if (d.events.count(event) == 0) return CUDA_ERROR_INVALID_HANDLE;
    Route route;
    CHECK(route_locked(stream, &route));
    if (route == Route::Record)
    {
        event->capture = d.capture.id;
        event->capture_tips = d.capture.tips[stream];
        event->timed = false;
        return CUDA_SUCCESS;
    }
    event->capture = 0;
    event->capture_tips.clear();
    event->timed = true;
    event->when = Clock::now();
    return CUDA_SUCCESS;
}

CUresult cuEventSynchronize(CUevent event)
{
    CHECK(ready_with_context());
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    if (d.events.count(event) == 0) return CUDA_ERROR_INVALID_HANDLE;
    if (d.capture.active && event->capture == d.capture.id) return CUDA_ERROR_CAPTURED_EVENT;
    return CUDA_SUCCESS;
}

CUresult cuEventElapsedTime(float* milliseconds, CUevent start, CUevent end)
{
    CHECK(ready_with_context());
    if (milliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    if (d.events.count(start) == 0 || d.events.count(end) == 0) return CUDA_ERROR_INVALID_HANDLE;
    for (CUevent e : {start, end})
        if (d.capture.active && e->capture == d.capture.id) return CUDA_ERROR_CAPTURED_EVENT;
    if (((start->flags | end->flags) & kEventDisableTiming) != 0 || !start->timed || !end->timed) return CUDA_ERROR_INVALID_HANDLE;
    *milliseconds = std::chrono::duration<float, std::milli>(end->when - start->when).count();
    return CUDA_SUCCESS;
}

CUresult cuEventDestroy_v2(CUevent event) { return destroy_registered(&Driver::events, event); }

// ---- the older unsuffixed entry points, with their own (older) signatures ----------------------------------------------------

CUresult cuStreamDestroy(CUstream stream) { return cuStreamDestroy_v2(stream); }
CUresult cuEventDestroy(CUevent event) { return cuEventDestroy_v2(event); }

// ---- emulator extension ------------------------------------------------------------------------------------------------------

// Queues host work on `stream` as if it were a kernel: run now on the calling thread, or, when the stream is capturing,
// recorded (with a copy of `bytes` bytes of `data`, so the caller may reuse its buffer) and run at every replay. `work`
// gets the data and returns 0, or nonzero with a one-line reason in `error`; the call (or the graph launch) then
// returns CUDA_ERROR_LAUNCH_FAILED and cuGetErrorString says "emulated <what> failed: <reason>". For the fake cuBLAS
// and cuBLASLt, whose GEMMs must land in graphs like any kernel.
int pxlemu_stream_enqueue(void* stream_handle, const char* what, int (*work)(const void* data, char* error, size_t error_size),
                          const void* data, size_t bytes)
{
    CUstream stream = static_cast<CUstream>(stream_handle);
    CHECK(ready_with_context());
    if (what == nullptr || work == nullptr || (bytes > 0 && data == nullptr)) return CUDA_ERROR_INVALID_VALUE;
    {
        Driver& d = driver();
        std::lock_guard<std::mutex> hold(d.lock);
        Route route;
        CHECK(route_locked(stream, &route));
        if (route == Route::Record)
        {
            Op op;
            op.kind = Op::Kind::Host;
            op.name = what;
            op.work = work;
            op.values.resize(bytes);
            if (bytes > 0) std::memcpy(op.values.data(), data, bytes);
            record_locked(stream, std::move(op));
            return CUDA_SUCCESS;
        }
    }
    return run_host_work(what, work, data);
}

// Tells `observer` of every kernel that runs from now on (eagerly or in a replayed graph): its name, host-clock start
// and end in ns, grid and block. Null stops it. For the fake CUPTI (fake_cupti.cpp), whose kernel records it fills.
void pxlemu_set_kernel_observer(PxlemuKernelObserver observer) { kernel_observer.store(observer); }

} // extern "C"
