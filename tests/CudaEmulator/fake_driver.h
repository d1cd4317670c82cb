// fake_driver.h → libcuda.so.1: a test double for the CUDA driver API, so that the CUDA backend runs unchanged on a
// machine without a GPU. Written from the driver API's public documented behaviour; no NVIDIA code or header is used.
// It exports what src/PixelLLM.Backends.Cuda binds, with the real signatures, and behaves like one small device:
//
//   device    one, compute capability 9.0, 4 multiprocessors unless PIXELLLM_EMULATOR_SMS (1 to 132) says otherwise
//             (few on purpose: persistent kernels size their grid by the SM count and libpxlemu.so runs all of a grid's
//             blocks at once), H100-like limits otherwise.
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
// is captured into graphs too (see its comment in driver_streams.cpp); pxlemu_set_kernel_observer tells the fake CUPTI
// of every kernel that runs.
//
// The driver is these files; this header, private to them, has what they share: the API's types, the handles,
// recorded work, the driver's state, and the helpers one file defines (the section comments below say which) and others
// call.
//   driver_device.cpp    error names and texts, cuInit, the device and its attributes, the primary context
//   driver_memory.cpp    allocation, copies and fills
//   driver_modules.cpp   module loading, functions, kernel and host-function launches
//   driver_streams.cpp   running queued work, streams, events, pxlemu_stream_enqueue
//   driver_graphs.cpp    stream capture and graphs
//
// Build (build.sh does, with its own rpath), with libpxlemu.so in <dir>:
//   g++ -std=c++17 -O2 -fPIC -shared -Wall -Wextra -Wl,-soname,libcuda.so.1 -o libcuda.so.1 driver_device.cpp
//       driver_memory.cpp driver_modules.cpp driver_streams.cpp driver_graphs.cpp -L<dir> -lpxlemu -Wl,-rpath,'$ORIGIN'
//       -ldl -lpthread
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "pxlemu.h"

// ---- the API's types (opaque handles are this header's own structs) --------------------------------------------------
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

namespace fake_driver {

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

} // namespace fake_driver

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
    fake_driver::Clock::time_point when{};
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
    fake_driver::Ops ops;
};

struct CUgraphExec_st
{
    fake_driver::Ops ops;
};

namespace fake_driver {

struct Allocation
{
    size_t bytes;   // as asked for; copies and fills must stay inside
    size_t rounded; // as counted against the device's memory
    bool device;    // cuMemAlloc (else cuMemAllocHost: pinned host memory, device-accessible under unified addressing)
    char* mapping = nullptr; // memcheck: the pages it lies in, its end against an inaccessible page (else aligned_alloc)
    size_t mapped = 0;
};

// driver_memcheck.cpp: PIXELLLM_EMULATOR_MEMCHECK=1 puts each device allocation's end against an inaccessible page and
// reports a kernel's access past it (or before its start, within the page before) by name, then exits with
// kMemcheckExitCode.
constexpr int kMemcheckExitCode = 86;
bool memcheck_enabled();
// The allocation's bytes, 16-byte aligned, ending 0–15 bytes before an inaccessible page; null when out of memory.
void* memcheck_allocate(size_t bytes, Allocation& record);
void memcheck_release(const Allocation& record);

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

// The functions the driver's files share are hidden: the library exports the API alone, as when it was one file.
#pragma GCC visibility push(hidden)

// ---- the driver's state, errors (driver_device.cpp) ------------------------------------------------------------------

Driver& driver();

// The NULL stream, CU_STREAM_LEGACY and CU_STREAM_PER_THREAD: always valid, never captured, run at once.
inline bool is_default_stream(CUstream s) { return reinterpret_cast<uintptr_t>(s) <= 2; }
inline bool is_legacy_stream(CUstream s) { return reinterpret_cast<uintptr_t>(s) <= 1; }

CUresult ready();              // CUDA_ERROR_NOT_INITIALIZED before cuInit
CUresult ready_with_context(); // also CUDA_ERROR_INVALID_CONTEXT with no current context on this thread

#define CHECK(expression)                                                                                                    \
    do                                                                                                                       \
    {                                                                                                                        \
        const CUresult status_ = (expression);                                                                               \
        if (status_ != CUDA_SUCCESS) return status_;                                                                         \
    } while (0)

// Keeps `text` as the message cuGetErrorString gives for `code`, prints it, and returns `code`.
CUresult fail_with(CUresult code, const std::string& text);

// Prints "[fake libcuda] <text>" to stderr.
__attribute__((format(printf, 1, 2))) void complain(const char* format, ...);

// Unregisters a handle the driver handed out (an event, graph or graph exec) and deletes it; one it does not know is
// CUDA_ERROR_INVALID_HANDLE.
template <typename Handle> CUresult destroy_registered(std::unordered_set<Handle> Driver::*registry, Handle handle)
{
    CHECK(ready_with_context());
    {
        std::lock_guard<std::mutex> hold(driver().lock);
        if ((driver().*registry).erase(handle) == 0) return CUDA_ERROR_INVALID_HANDLE;
    }
    delete handle;
    return CUDA_SUCCESS;
}

// ---- memory (driver_memory.cpp; lock held) ----------------------------------------------------------------------------

// Whether [p, p + bytes) lies inside one allocation: device memory, or pinned host memory (unified addressing).
bool inside_allocation_locked(uintptr_t p, size_t bytes);

// ---- capture (driver_graphs.cpp; lock held) ---------------------------------------------------------------------------

bool is_stream_locked(CUstream s);
bool unsafe_calls_forbidden_locked();
void invalidate_locked(const char* why);

enum class Route
{
    Run,    // execute now, on the calling thread
    Record, // append to the active capture
};

CUresult route_locked(CUstream s, Route* route);
void record_locked(CUstream s, Op&& op);
void join_locked(CUstream s, const std::vector<uint32_t>& after);
void end_capture_locked(std::vector<Op>* ops);

// ---- running work (driver_streams.cpp; lock not held) -----------------------------------------------------------------

CUresult run_grid(const PxlemuKernel* kernel, void** args, const unsigned grid[3], const unsigned block[3], size_t shared);
CUresult run_host_work(const char* name, HostWork work, const void* data);
CUresult replay(const std::vector<Op>& ops);
CUresult submit(CUstream s, Op&& op);

#pragma GCC visibility pop

} // namespace fake_driver
