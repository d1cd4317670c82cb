// fake_driver.cpp → libcuda.so.1: a test double for the CUDA driver API, so that the CUDA backend runs unchanged on a
// machine without a GPU. Written from the driver API's public documented behaviour; no NVIDIA code or header is used.
// It exports what src/PixelLLM.Backends.Cuda binds, with the real signatures, and behaves like one small device:
//
//   device    one, compute capability 9.0, 4 multiprocessors (few on purpose: persistent kernels size their grid by
//             the SM count and libpxlemu.so runs all of a grid's blocks at once), H100-like limits otherwise.
//   memory    device pointers are host pointers: 256-byte aligned, filled with 0xFF bytes (never-written floats read
//             as NaN), 16 GiB in all. Copies and fills check that they stay inside one allocation.
//   modules   cuModuleLoadData takes PXLEMU_IMAGE_MAGIC + the path of an emulated module (what the fake NVRTC
//             returns), dlopens it and hands out its PxlemuKernel entries as CUfunctions (see pxlemu.h).
//   streams   everything runs synchronously on the calling thread, in issue order; events hold the time they ran.
//   graphs    stream capture records launches, copies and fills issued on the streams in the capture (the origin and
//             those joined to it through cuStreamWaitEvent on an event recorded in it), copying kernel parameters at
//             record time; cuGraphLaunch replays them in issue order, which respects every stream and event
//             dependency because the host issued them in such an order. One capture at a time.
//
// Misuse returns what the real driver returns, so it shows up in tests: no current context → CUDA_ERROR_INVALID_CONTEXT,
// more dynamic shared memory than the kernel opted in to → CUDA_ERROR_INVALID_VALUE, a synchronous copy, allocation,
// free or synchronisation during a capture → CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, and so on. A kernel that fails in
// libpxlemu.so returns CUDA_ERROR_LAUNCH_FAILED, and cuGetErrorString then gives "emulated kernel <name> failed:
// <reason>" (also printed to stderr). Unlike a real device, errors are not sticky: the next call works.
//
// Emulator extension: pxlemu_stream_enqueue queues host work (the fake cuBLAS's GEMMs) on a stream like a kernel, so it
// is captured into graphs too (see its comment at the end of this file).
//
// Build (build.sh does, with its own rpath), with libpxlemu.so in <dir>:
//   g++ -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Wl,-soname,libcuda.so.1 -o libcuda.so.1 fake_driver.cpp
//       -L<dir> -lpxlemu -Wl,-rpath,'$ORIGIN' -ldl -lpthread
#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <dlfcn.h>

#include "pxlemu.h"

// ---- the API's types (opaque handles are this file's own structs) --------------------------------------------------
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef unsigned int CUdeviceptr_v1;
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction; // really a const PxlemuKernel*
typedef struct CUstream_st* CUstream;
typedef struct CUevent_st* CUevent;
typedef struct CUgraph_st* CUgraph;
typedef struct CUgraphExec_st* CUgraphExec;
typedef void (*CUhostFn)(void* user_data);

// CUlaunchAttribute: an id, then a 64-byte value union at offset 8. Launch attributes are accepted and ignored.
struct CUlaunchAttribute
{
    int id;
    char pad[4];
    char value[64];
};

struct CUlaunchConfig
{
    unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
    CUstream hStream;
    CUlaunchAttribute* attrs;
    unsigned numAttrs;
};
static_assert(sizeof(CUlaunchAttribute) == 72, "CUlaunchAttribute layout");
static_assert(sizeof(CUlaunchConfig) == 56 && offsetof(CUlaunchConfig, hStream) == 32 && offsetof(CUlaunchConfig, numAttrs) == 48,
              "CUlaunchConfig layout");

enum : CUresult
{
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_ILLEGAL_STATE = 401,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_UNMATCHED = 903,
    CUDA_ERROR_STREAM_CAPTURE_UNJOINED = 904,
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
    CUDA_ERROR_CAPTURED_EVENT = 907,
    CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD = 908,
    CUDA_ERROR_UNKNOWN = 999,
};

namespace {

// ---- the device ----------------------------------------------------------------------------------------------------
constexpr int kDriverVersion = 11080;
constexpr const char* kDeviceName = "PixelLLM CUDA emulator (CPU)";
constexpr size_t kTotalMemory = size_t(16) << 30;
constexpr size_t kAllocationAlignment = 256;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 64};
constexpr unsigned kMaxGridDim[3] = {2147483647u, 65535, 65535};
constexpr int kDefaultSharedPerBlock = 49152;  // without cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)
constexpr int kMaxSharedPerBlockOptIn = 232448; // = PXLEMU_DYNAMIC_SHARED_BYTES in emu.h
constexpr int kFuncAttributeMaxDynamicShared = 8;
constexpr int kFuncAttributeCarveout = 9;
constexpr unsigned kStreamNonBlocking = 1;
constexpr unsigned kEventFlags = 1 | 2 | 4; // BLOCKING_SYNC, DISABLE_TIMING, INTERPROCESS
constexpr unsigned kEventDisableTiming = 2;
constexpr int kCaptureModeGlobal = 0, kCaptureModeThreadLocal = 1, kCaptureModeRelaxed = 2;

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
    case 16: return 4;                  // MULTIPROCESSOR_COUNT
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

__attribute__((format(printf, 1, 2))) void complain(const char* format, ...)
{
    char line[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    std::fprintf(stderr, "[fake libcuda] %s\n", line);
}

using Clock = std::chrono::steady_clock;

// ---- recorded work ---------------------------------------------------------------------------------------------------

// Bytes kept with maximal alignment: a launch's parameter values, a host work item's data.
struct Blob
{
    std::vector<std::max_align_t> words;
    void* data() { return words.data(); }
    const void* data() const { return words.data(); }
    void resize(size_t bytes) { words.resize((bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t)); }
};

using HostWork = int (*)(const void* data, char* error, size_t error_size);

// One recorded operation of a graph.
struct Op
{
    enum class Kind
    {
        Kernel,   // kernel, grid, block, shared, values (parameter i at offsets[i])
        Copy,     // dst, src, bytes
        Fill,     // dst, value, bytes
        Host,     // name, work, values (pxlemu_stream_enqueue)
        HostFunc, // host_fn, user (cuLaunchHostFunc)
        Graph,    // child (cuGraphLaunch into a capturing stream)
    } kind = Kind::Kernel;
    const PxlemuKernel* kernel = nullptr;
    unsigned grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
    size_t shared = 0;
    Blob values;
    std::vector<size_t> offsets;
    CUdeviceptr dst = 0, src = 0;
    size_t bytes = 0;
    unsigned char value = 0;
    std::string name;
    HostWork work = nullptr;
    CUhostFn host_fn = nullptr;
    void* user = nullptr;
    std::shared_ptr<const std::vector<Op>> child;
};

using Ops = std::shared_ptr<const std::vector<Op>>;

} // namespace

// ---- handles ---------------------------------------------------------------------------------------------------------
struct CUctx_st
{
    int device;
};

struct CUstream_st
{
    unsigned flags;
};

struct CUevent_st
{
    unsigned flags;
    bool timed = false; // recorded outside a capture: `when` is valid
    Clock::time_point when{};
    unsigned long long capture = 0;    // the capture it was last recorded in (0: none)
    std::vector<uint32_t> capture_tips; // what a stream waiting on it in that capture depends on
};

struct CUmod_st
{
    void* library;
    std::string path;
    const PxlemuKernel* kernels;
    int count;
};

struct CUgraph_st
{
    Ops ops;
};

struct CUgraphExec_st
{
    Ops ops;
};

namespace {

struct Allocation
{
    size_t bytes;   // as asked for; copies and fills must stay inside
    size_t rounded; // as counted against the device's memory
    bool device;    // cuMemAlloc (else cuMemAllocHost: pinned host memory, device-accessible under unified addressing)
};

struct Function
{
    int modules = 0; // loaded modules that hand it out (a module file loaded twice is one library)
    int max_dynamic_shared = kDefaultSharedPerBlock;
};

struct Capture
{
    bool active = false;
    unsigned long long id = 0;
    CUstream origin = nullptr;
    int mode = kCaptureModeGlobal;
    std::thread::id owner;
    bool invalidated = false;
    bool has_blocking_stream = false; // a captured stream synchronises with the legacy stream
    std::vector<Op> ops;
    std::vector<std::vector<uint32_t>> deps;                  // per op: the ops it follows
    std::unordered_map<CUstream, std::vector<uint32_t>> tips; // the streams in the capture: their last ops
};

struct Driver
{
    std::mutex lock; // guards everything below; never held while a kernel or host callback runs
    std::atomic<bool> initialized{false};
    int primary_retains = 0;
    std::map<uintptr_t, Allocation> allocations;
    size_t device_bytes = 0;
    std::unordered_set<CUstream> streams;
    std::unordered_set<CUevent> events;
    std::unordered_set<CUmodule> modules;
    std::unordered_map<const PxlemuKernel*, Function> functions;
    std::unordered_set<CUgraph> graphs;
    std::unordered_set<CUgraphExec> execs;
    Capture capture;
    unsigned long long captures = 0;
    std::set<std::string> failure_texts;             // interned: cuGetErrorString hands out pointers into them
    std::unordered_map<CUresult, const char*> details; // the latest failure's text per code
};

// Never destroyed, so late calls during process exit (finalizers) still find it.
Driver& driver()
{
    static Driver* d = new Driver;
    return *d;
}

CUctx_st primary_context{0};
thread_local CUcontext current_context = nullptr;

// The NULL stream, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD: always valid, never captured, run at once.
bool is_default_stream(CUstream s) { return reinterpret_cast<uintptr_t>(s) <= 2; }
bool is_legacy_stream(CUstream s) { return reinterpret_cast<uintptr_t>(s) <= 1; }

CUresult ready() { return driver().initialized ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED; }

CUresult ready_with_context()
{
    if (!driver().initialized) return CUDA_ERROR_NOT_INITIALIZED;
    return current_context == nullptr ? CUDA_ERROR_INVALID_CONTEXT : CUDA_SUCCESS;
}

#define CHECK(expression)                                                                                                    \
    do                                                                                                                       \
    {                                                                                                                        \
        const CUresult status_ = (expression);                                                                               \
        if (status_ != CUDA_SUCCESS) return status_;                                                                         \
    } while (0)

// Keeps `text` as the message cuGetErrorString gives for `code`, prints it, and returns `code`.
CUresult fail_with(CUresult code, const std::string& text)
{
    std::fprintf(stderr, "[fake libcuda] %s\n", text.c_str());
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    d.details[code] = d.failure_texts.insert(text).first->c_str();
    return code;
}

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
    void* p = std::aligned_alloc(kAllocationAlignment, rounded);
    if (p != nullptr) std::memset(p, 0xFF, rounded);
    std::lock_guard<std::mutex> hold(d.lock);
    if (p == nullptr)
    {
        if (device) d.device_bytes -= rounded;
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    d.allocations[reinterpret_cast<uintptr_t>(p)] = Allocation{bytes, rounded, device};
    *out = p;
    return CUDA_SUCCESS;
}

CUresult release(uintptr_t p, bool device)
{
    Driver& d = driver();
    {
        std::lock_guard<std::mutex> hold(d.lock);
        auto it = d.allocations.find(p);
        if (it == d.allocations.end() || it->second.device != device) return CUDA_ERROR_INVALID_VALUE;
        if (device) d.device_bytes -= it->second.rounded;
        d.allocations.erase(it);
    }
    std::free(reinterpret_cast<void*>(p));
    return CUDA_SUCCESS;
}

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

enum class Route
{
    Run,    // execute now, on the calling thread
    Record, // append to the active capture
};

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

void end_capture_locked(std::vector<Op>* ops)
{
    Capture& c = driver().capture;
    if (ops != nullptr) *ops = std::move(c.ops);
    c = Capture{};
}

// ---- running work (lock not held) --------------------------------------------------------------------------------------

CUresult run_grid(const PxlemuKernel* kernel, void** args, const unsigned grid[3], const unsigned block[3], size_t shared)
{
    char why[512] = "";
    if (pxlemu_run_grid(kernel, args, grid[0], grid[1], grid[2], block[0], block[1], block[2], shared, why, sizeof why) == 0)
        return CUDA_SUCCESS;
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

CUresult replay(const std::vector<Op>& ops);

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

// ---- launches ------------------------------------------------------------------------------------------------------------

CUresult launch(CUfunction f, const unsigned grid[3], const unsigned block[3], unsigned shared, CUstream s, void** params)
{
    CHECK(ready_with_context());
    const PxlemuKernel* kernel = reinterpret_cast<const PxlemuKernel*>(f);
    const char* name = "?";
    Op op;
    {
        Driver& d = driver();
        std::lock_guard<std::mutex> hold(d.lock);
        auto fn = d.functions.find(kernel);
        if (fn == d.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
        name = kernel->name;
        bool fits = (unsigned long long)block[0] * block[1] * block[2] <= kMaxThreadsPerBlock;
        for (int i = 0; i < 3; i++)
            fits = fits && grid[i] >= 1 && grid[i] <= kMaxGridDim[i] && block[i] >= 1 && block[i] <= kMaxBlockDim[i];
        if (!fits)
        {
            complain("launch of %s: grid (%u,%u,%u) of blocks (%u,%u,%u) is out of the device's limits", name, grid[0], grid[1], grid[2],
                     block[0], block[1], block[2]);
            return CUDA_ERROR_INVALID_VALUE;
        }
        if (shared > (unsigned)fn->second.max_dynamic_shared)
        {
            complain("launch of %s: %u bytes of dynamic shared memory, but the kernel allows %d (cuFuncSetAttribute "
                     "MAX_DYNAMIC_SHARED_SIZE_BYTES raises it up to %d)",
                     name, shared, fn->second.max_dynamic_shared, kMaxSharedPerBlockOptIn);
            return CUDA_ERROR_INVALID_VALUE;
        }
        if (kernel->arg_count > 0 && params == nullptr) return CUDA_ERROR_INVALID_VALUE;
        Route route;
        CHECK(route_locked(s, &route));
        if (route == Route::Record)
        {
            // The caller reuses its argument buffers: keep the values themselves.
            op.kind = Op::Kind::Kernel;
            op.kernel = kernel;
            std::copy(grid, grid + 3, op.grid);
            std::copy(block, block + 3, op.block);
            op.shared = shared;
            size_t total = 0;
            for (int i = 0; i < kernel->arg_count; i++)
            {
                total = (total + alignof(std::max_align_t) - 1) / alignof(std::max_align_t) * alignof(std::max_align_t);
                op.offsets.push_back(total);
                total += kernel->arg_sizes[i];
            }
            op.values.resize(total);
            for (int i = 0; i < kernel->arg_count; i++)
                std::memcpy((char*)op.values.data() + op.offsets[i], params[i], kernel->arg_sizes[i]);
            record_locked(s, std::move(op));
            return CUDA_SUCCESS;
        }
    }
    return run_grid(kernel, params, grid, block, shared);
}

} // namespace

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

// ---- modules -----------------------------------------------------------------------------------------------------------

CUresult cuModuleLoadData(CUmodule* module, const void* image)
{
    CHECK(ready_with_context());
    if (module == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
    const char* text = static_cast<const char*>(image);
    const size_t magic = std::strlen(PXLEMU_IMAGE_MAGIC);
    if (std::strncmp(text, PXLEMU_IMAGE_MAGIC, magic) != 0)
    {
        complain("cuModuleLoadData: the image does not start with \"%s\" (not an emulated module)", PXLEMU_IMAGE_MAGIC);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    const char* path = text + magic;
    size_t length = 0;
    while (length < 4096 && path[length] != '\n' && path[length] != '\0') length++;
    if (path[0] != '/' || length >= 4096 || path[length] != '\n')
    {
        complain("cuModuleLoadData: the image does not name a module by absolute path and a newline");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    const std::string file(path, length);
    void* library = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr)
    {
        const char* why = dlerror();
        complain("cuModuleLoadData: cannot load %s: %s", file.c_str(), why != nullptr ? why : "?");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    const PxlemuKernel* kernels = nullptr;
    auto list = reinterpret_cast<PxlemuModuleKernelsFn>(dlsym(library, PXLEMU_MODULE_SYMBOL));
    const int count = list != nullptr ? list(&kernels) : -1;
    bool valid = count >= 0 && (count == 0 || kernels != nullptr);
    for (int i = 0; valid && i < count; i++)
    {
        const PxlemuKernel& k = kernels[i];
        valid = k.name != nullptr && k.invoke != nullptr && k.arg_count >= 0 && (k.arg_count == 0 || k.arg_sizes != nullptr);
    }
    if (!valid)
    {
        complain("cuModuleLoadData: %s has no valid %s table", file.c_str(), PXLEMU_MODULE_SYMBOL);
        dlclose(library);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    CUmodule m = new CUmod_st{library, file, kernels, count};
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    d.modules.insert(m);
    for (int i = 0; i < count; i++) d.functions[&kernels[i]].modules++;
    *module = m;
    return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule module)
{
    CHECK(ready_with_context());
    Driver& d = driver();
    {
        std::lock_guard<std::mutex> hold(d.lock);
        if (d.modules.erase(module) == 0) return CUDA_ERROR_INVALID_HANDLE;
        for (int i = 0; i < module->count; i++)
        {
            auto fn = d.functions.find(&module->kernels[i]);
            if (fn != d.functions.end() && --fn->second.modules == 0) d.functions.erase(fn);
        }
    }
    dlclose(module->library);
    delete module;
    return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction* function, CUmodule module, const char* name)
{
    CHECK(ready_with_context());
    if (function == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    std::lock_guard<std::mutex> hold(driver().lock);
    if (driver().modules.count(module) == 0) return CUDA_ERROR_INVALID_HANDLE;
    for (int i = 0; i < module->count; i++)
    {
        if (std::strcmp(module->kernels[i].name, name) == 0)
        {
            *function = reinterpret_cast<CUfunction>(const_cast<PxlemuKernel*>(&module->kernels[i]));
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

// MAX_DYNAMIC_SHARED_SIZE_BYTES is kept (launches are checked against it); the carveout is range-checked; the rest is
// accepted and ignored.
CUresult cuFuncSetAttribute(CUfunction function, int attribute, int value)
{
    CHECK(ready_with_context());
    Driver& d = driver();
    std::lock_guard<std::mutex> hold(d.lock);
    auto fn = d.functions.find(reinterpret_cast<const PxlemuKernel*>(function));
    if (fn == d.functions.end()) return CUDA_ERROR_INVALID_HANDLE;
    if (attribute == kFuncAttributeMaxDynamicShared)
    {
        if (value < 0 || value > kMaxSharedPerBlockOptIn) return CUDA_ERROR_INVALID_VALUE;
        fn->second.max_dynamic_shared = std::max(value, kDefaultSharedPerBlock);
    }
    else if (attribute == kFuncAttributeCarveout && (value < -1 || value > 100))
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

// ---- launches ------------------------------------------------------------------------------------------------------------

CUresult cuLaunchKernel(CUfunction function, unsigned gridDimX, unsigned gridDimY, unsigned gridDimZ, unsigned blockDimX,
                        unsigned blockDimY, unsigned blockDimZ, unsigned sharedMemBytes, CUstream stream, void** kernelParams,
                        void** extra)
{
    if (extra != nullptr)
    {
        complain("cuLaunchKernel: the emulator takes parameters through kernelParams only (extra must be null)");
        return CUDA_ERROR_INVALID_VALUE;
    }
    const unsigned grid[3] = {gridDimX, gridDimY, gridDimZ}, block[3] = {blockDimX, blockDimY, blockDimZ};
    return launch(function, grid, block, sharedMemBytes, stream, kernelParams);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction function, void** kernelParams, void** extra)
{
    if (config == nullptr || (config->numAttrs > 0 && config->attrs == nullptr)) return CUDA_ERROR_INVALID_VALUE;
    if (extra != nullptr)
    {
        complain("cuLaunchKernelEx: the emulator takes parameters through kernelParams only (extra must be null)");
        return CUDA_ERROR_INVALID_VALUE;
    }
    const unsigned grid[3] = {config->gridDimX, config->gridDimY, config->gridDimZ};
    const unsigned block[3] = {config->blockDimX, config->blockDimY, config->blockDimZ};
    return launch(function, grid, block, config->sharedMemBytes, config->hStream, kernelParams);
}

CUresult cuLaunchHostFunc(CUstream stream, CUhostFn fn, void* userData)
{
    CHECK(ready_with_context());
    if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Op op;
    op.kind = Op::Kind::HostFunc;
    op.host_fn = fn;
    op.user = userData;
    return submit(stream, std::move(op));
}

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
    CHECK(ready_with_context());
    if (bytes == 0) return CUDA_SUCCESS;
    if (source == nullptr) return CUDA_ERROR_INVALID_VALUE;
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (unsafe_calls_forbidden_locked())
        {
            complain("cuMemcpyHtoD (synchronous) during a stream capture");
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
        if (!inside_allocation_locked(destination, bytes)) return CUDA_ERROR_INVALID_VALUE;
    }
    std::memcpy(reinterpret_cast<void*>(destination), source, bytes);
    return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoH_v2(void* destination, CUdeviceptr source, size_t bytes)
{
    CHECK(ready_with_context());
    if (bytes == 0) return CUDA_SUCCESS;
    if (destination == nullptr) return CUDA_ERROR_INVALID_VALUE;
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (unsafe_calls_forbidden_locked())
        {
            complain("cuMemcpyDtoH (synchronous) during a stream capture");
            return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        }
        if (!inside_allocation_locked(source, bytes)) return CUDA_ERROR_INVALID_VALUE;
    }
    std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
    return CUDA_SUCCESS;
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

CUresult cuEventDestroy_v2(CUevent event)
{
    CHECK(ready_with_context());
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (driver().events.erase(event) == 0) return CUDA_ERROR_INVALID_HANDLE;
    }
    delete event;
    return CUDA_SUCCESS;
}

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

CUresult cuGraphExecDestroy(CUgraphExec exec)
{
    CHECK(ready_with_context());
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (driver().execs.erase(exec) == 0) return CUDA_ERROR_INVALID_HANDLE;
    }
    delete exec;
    return CUDA_SUCCESS;
}

CUresult cuGraphDestroy(CUgraph graph)
{
    CHECK(ready_with_context());
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if (driver().graphs.erase(graph) == 0) return CUDA_ERROR_INVALID_HANDLE;
    }
    delete graph;
    return CUDA_SUCCESS;
}

// ---- the older unsuffixed entry points, with their own (older) signatures ----------------------------------------------------

CUresult cuDevicePrimaryCtxRelease(CUdevice device) { return cuDevicePrimaryCtxRelease_v2(device); }
CUresult cuStreamDestroy(CUstream stream) { return cuStreamDestroy_v2(stream); }
CUresult cuEventDestroy(CUevent event) { return cuEventDestroy_v2(event); }
CUresult cuStreamBeginCapture(CUstream stream) { return cuStreamBeginCapture_v2(stream, kCaptureModeGlobal); }

// 32-bit sizes: clamped.
CUresult cuDeviceTotalMem(unsigned* bytes, CUdevice device)
{
    if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    size_t total = 0;
    CHECK(cuDeviceTotalMem_v2(&total, device));
    *bytes = (unsigned)std::min<size_t>(total, UINT_MAX);
    return CUDA_SUCCESS;
}

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

} // extern "C"
