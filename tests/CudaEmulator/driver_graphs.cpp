// driver_graphs.cpp: part of the fake CUDA driver, libcuda.so.1 (see fake_driver.h): stream capture (the streams in it,
// what each recorded op follows, where work queued on a stream goes) and graphs: instantiation, launch and destruction.
#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "fake_driver.h"

namespace fake_driver {

// ---- capture (lock held) -----------------------------------------------------------------------------------------------

bool is_stream_locked(CUstream s) { return is_default_stream(s) || driver().streams.count(s) != 0; }

// Whether this thread may not make "potentially unsafe" calls (synchronous copies, allocation, ...) now: a capture
// begun in global mode forbids them everywhere, one in thread-local mode on the thread that began it.
bool unsafe_calls_forbidden_locked()
{
    const Capture& c = driver().capture;
    if (!c.active) return false;
    return c.mode == kCaptureModeGlobal || (c.mode == kCaptureModeThreadLocal && c.owner == std::this_thread::get_id());
}

void invalidate_locked(const char* why)
{
    Capture& c = driver().capture;
    if (!c.invalidated) complain("stream capture invalidated: %s", why);
    c.invalidated = true;
}

// Where work queued on `s` goes: into the capture when `s` is in it, else it runs now.
CUresult route_locked(CUstream s, Route* route)
{
    if (!is_stream_locked(s)) return CUDA_ERROR_INVALID_HANDLE;
    Capture& c = driver().capture;
    *route = Route::Run;
    if (!c.active) return CUDA_SUCCESS;
    if (c.tips.count(s) != 0)
    {
        if (c.invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
        *route = Route::Record;
        return CUDA_SUCCESS;
    }
    if (is_legacy_stream(s) && c.has_blocking_stream)
    {
        invalidate_locked("work on the legacy stream would wait for a blocking stream in the capture");
        return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
    return CUDA_SUCCESS;
}

void record_locked(CUstream s, Op&& op)
{
    Capture& c = driver().capture;
    std::vector<uint32_t>& tips = c.tips[s];
    const uint32_t index = (uint32_t)c.ops.size();
    c.ops.push_back(std::move(op));
    c.deps.push_back(tips);
    tips.assign(1, index);
}

void join_locked(CUstream s, const std::vector<uint32_t>& after)
{
    Capture& c = driver().capture;
    auto it = c.tips.find(s);
    if (it == c.tips.end())
    {
        c.tips.emplace(s, after);
        if (!is_default_stream(s) && (s->flags & kStreamNonBlocking) == 0) c.has_blocking_stream = true;
        return;
    }
    for (uint32_t op : after)
        if (std::find(it->second.begin(), it->second.end(), op) == it->second.end()) it->second.push_back(op);
}

namespace {

// Whether every op recorded on a stream forked from the origin was joined back into it.
bool all_joined_locked(const Capture& c)
{
    std::vector<bool> before_end(c.ops.size(), false);
    std::vector<uint32_t> pending = c.tips.at(c.origin);
    while (!pending.empty())
    {
        const uint32_t op = pending.back();
        pending.pop_back();
        if (before_end[op]) continue;
        before_end[op] = true;
        pending.insert(pending.end(), c.deps[op].begin(), c.deps[op].end());
    }
    for (const auto& [stream, tips] : c.tips)
        for (uint32_t op : tips)
            if (!before_end[op]) return false;
    return true;
}

} // namespace

void end_capture_locked(std::vector<Op>* ops)
{
    Capture& c = driver().capture;
    if (ops != nullptr) *ops = std::move(c.ops);
    c = Capture{};
}

} // namespace fake_driver

using namespace fake_driver;

// ==== the exported API =================================================================================================
extern "C" {

// ---- graphs ----------------------------------------------------------------------------------------------------------------

CUresult cuStreamBeginCapture_v2(CUstream stream, int mode)
{
    CHECK(ready_with_context());
    if (mode < kCaptureModeGlobal || mode > kCaptureModeRelaxed) return CUDA_ERROR_INVALID_VALUE;
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    if (!is_stream_locked(stream)) return CUDA_ERROR_INVALID_HANDLE;
    if (is_default_stream(stream))
    {
        complain("cuStreamBeginCapture on a default stream (only created streams can be captured)");
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    if (d.capture.active)
    {
        complain("cuStreamBeginCapture while another capture is active (the emulator captures one stream at a time)");
        return CUDA_ERROR_ILLEGAL_STATE;
    }
    Capture& c = d.capture;
    c = Capture{};
    c.active = true;
    c.id = ++d.captures;
    c.origin = stream;
    c.mode = mode;
    c.owner = std::this_thread::get_id();
    c.tips[stream];
    c.has_blocking_stream = (stream->flags & kStreamNonBlocking) == 0;
    return CUDA_SUCCESS;
}

CUresult cuStreamEndCapture(CUstream stream, CUgraph* graph)
{
    CHECK(ready_with_context());
    if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Driver& d = driver();
    std::vector<Op> ops;
    {
        std::lock_guard<std::mutex> hold(d.lock);
        if (!is_stream_locked(stream)) return CUDA_ERROR_INVALID_HANDLE;
        Capture& c = d.capture;
        if (!c.active || c.tips.count(stream) == 0) return CUDA_ERROR_ILLEGAL_STATE;
        if (c.origin != stream) return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
        if (c.mode != kCaptureModeRelaxed && c.owner != std::this_thread::get_id()) return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
        *graph = nullptr;
        if (c.invalidated)
        {
            end_capture_locked(nullptr);
            return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
        }
        if (!all_joined_locked(c))
        {
            complain("cuStreamEndCapture: a stream forked into the capture has work that was not joined back into the origin");
            end_capture_locked(nullptr);
            return CUDA_ERROR_STREAM_CAPTURE_UNJOINED;
        }
        end_capture_locked(&ops);
    }
    CUgraph g = new CUgraph_st{std::make_shared<const std::vector<Op>>(std::move(ops))};
    std::lock_guard<std::mutex> hold(d.lock);
    d.graphs.insert(g);
    *graph = g;
    return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing(CUstream stream, int* status)
{
    CHECK(ready_with_context());
    if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> hold(driver().lock);
    if (!is_stream_locked(stream)) return CUDA_ERROR_INVALID_HANDLE;
    const Capture& c = driver().capture;
    // CU_STREAM_CAPTURE_STATUS_NONE = 0, _ACTIVE = 1, _INVALIDATED = 2
    *status = !c.active || c.tips.count(stream) == 0 ? 0 : c.invalidated ? 2 : 1;
    return CUDA_SUCCESS;
}

// The recorded ops are immutable once the capture ends, so the exec shares them rather than copying.
CUresult cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph graph, unsigned long long /*flags*/)
{
    CHECK(ready_with_context());
    if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    if (d.graphs.count(graph) == 0) return CUDA_ERROR_INVALID_HANDLE;
    CUgraphExec e = new CUgraphExec_st{graph->ops};
    d.execs.insert(e);
    *exec = e;
    return CUDA_SUCCESS;
}

CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream)
{
    CHECK(ready_with_context());
    Ops ops;
    {
        Driver& d = driver();
        std::lock_guard<std::mutex> hold(d.lock);
        if (d.execs.count(exec) == 0) return CUDA_ERROR_INVALID_HANDLE;
        Route route;
        CHECK(route_locked(stream, &route));
        if (route == Route::Record)
        {
            Op op;
            op.kind = Op::Kind::Graph;
            op.child = exec->ops;
            record_locked(stream, std::move(op));
            return CUDA_SUCCESS;
        }
        ops = exec->ops; // keeps them alive should the exec be destroyed meanwhile
    }
    return replay(*ops);
}

CUresult cuGraphExecDestroy(CUgraphExec exec) { return destroy_registered(&Driver::execs, exec); }

CUresult cuGraphDestroy(CUgraph graph) { return destroy_registered(&Driver::graphs, graph); }

// ---- the older unsuffixed entry points, with their own (older) signatures ----------------------------------------------------

CUresult cuStreamBeginCapture(CUstream stream) { return cuStreamBeginCapture_v2(stream, kCaptureModeGlobal); }

} // extern "C"
