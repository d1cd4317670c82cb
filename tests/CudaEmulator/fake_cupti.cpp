// fake_cupti.cpp: libcupti for the CUDA emulator — the part of CUPTI's activity API the engine's kernel trace uses
// (src/PixelLLM.Backends.Cuda/Interop/Cupti.cs): buffer callbacks, concurrent-kernel records, a forced flush, the
// record walk. Enabling CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL asks the fake driver (pxlemu_set_kernel_observer) to
// report each kernel it runs; each becomes a record whose head has CUpti_ActivityKernel's layout (the offsets the
// engine reads, asserted below), timed on the host's steady clock. A flush hands the records over in buffers the
// engine supplies, as many as fit in each.
#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "pxlemu.h"

namespace {

constexpr int Success = 0, InvalidParameter = 1, InvalidKind = 21, MaxLimitReached = 12, NotInitialized = 15;
constexpr int KindConcurrentKernel = 10;

// The head of CUpti_ActivityKernel3 and every later version.
struct Record
{
    int32_t kind;
    uint8_t cache_config, shared_memory_config;
    uint16_t registers_per_thread;
    int32_t partitioned_cache_requested, partitioned_cache_executed;
    uint64_t start, end, completed;
    uint32_t device_id, context_id, stream_id;
    int32_t grid[3], block[3];
    int32_t static_shared_memory, dynamic_shared_memory;
    uint32_t local_memory_per_thread, local_memory_total;
    uint32_t correlation_id;
    int64_t grid_id;
    const char* name;
    void* reserved0;
};
static_assert(offsetof(Record, start) == 16 && offsetof(Record, end) == 24 && offsetof(Record, stream_id) == 48, "CUPTI layout");
static_assert(offsetof(Record, grid) == 52 && offsetof(Record, block) == 64 && offsetof(Record, correlation_id) == 92, "CUPTI layout");
static_assert(offsetof(Record, name) == 104 && sizeof(Record) == 120, "CUPTI layout");

using Requested = void (*)(uint8_t** buffer, size_t* size, size_t* max_records);
using Completed = void (*)(void* context, uint32_t stream, uint8_t* buffer, size_t size, size_t valid);
using SetObserver = void (*)(PxlemuKernelObserver);

struct State
{
    std::mutex lock;
    Requested requested = nullptr;
    Completed completed = nullptr;
    std::vector<Record> pending;
    std::set<std::string> names; // stable pointers for the records' names
    uint32_t correlation = 0;
    SetObserver set_observer = nullptr;
};

State& state()
{
    static State s;
    return s;
}

void observe(const char* name, unsigned long long start, unsigned long long end, const unsigned grid[3], const unsigned block[3])
{
    State& s = state();
    std::lock_guard<std::mutex> hold(s.lock);
    Record r{};
    r.kind = KindConcurrentKernel;
    r.start = start;
    r.end = end;
    r.completed = end;
    for (int i = 0; i < 3; i++) r.grid[i] = static_cast<int32_t>(grid[i]), r.block[i] = static_cast<int32_t>(block[i]);
    r.correlation_id = ++s.correlation;
    r.name = s.names.insert(name).first->c_str();
    s.pending.push_back(r);
}

// The fake driver's observer switch: the driver is already loaded (the engine created its context first).
SetObserver driver_observer_switch()
{
    const char* path = std::getenv("PIXELLLM_CUDA_DRIVER");
    void* driver = dlopen(path != nullptr && path[0] != 0 ? path : "libcuda.so.1", RTLD_NOW);
    return driver == nullptr ? nullptr : reinterpret_cast<SetObserver>(dlsym(driver, "pxlemu_set_kernel_observer"));
}

} // namespace

extern "C" {

int cuptiActivityRegisterCallbacks(Requested requested, Completed completed)
{
    if (requested == nullptr || completed == nullptr) return InvalidParameter;
    State& s = state();
    std::lock_guard<std::mutex> hold(s.lock);
    s.requested = requested;
    s.completed = completed;
    return Success;
}

int cuptiActivityEnable(int kind)
{
    if (kind != KindConcurrentKernel) return InvalidKind;
    State& s = state();
    std::lock_guard<std::mutex> hold(s.lock);
    if (s.requested == nullptr) return NotInitialized;
    if (s.set_observer == nullptr) s.set_observer = driver_observer_switch();
    if (s.set_observer == nullptr) return NotInitialized;
    s.set_observer(observe);
    return Success;
}

int cuptiActivityDisable(int kind)
{
    if (kind != KindConcurrentKernel) return InvalidKind;
    State& s = state();
    std::lock_guard<std::mutex> hold(s.lock);
    if (s.set_observer != nullptr) s.set_observer(nullptr);
    return Success;
}

int cuptiActivityFlushAll(uint32_t)
{
    State& s = state();
    std::vector<Record> records;
    Requested requested;
    Completed completed;
    {
        std::lock_guard<std::mutex> hold(s.lock);
        records.swap(s.pending);
        requested = s.requested;
        completed = s.completed;
    }
    for (size_t next = 0; next < records.size() && requested != nullptr;)
    {
        uint8_t* buffer = nullptr;
        size_t size = 0, max_records = 0;
        requested(&buffer, &size, &max_records);
        if (buffer == nullptr || size < sizeof(Record)) return InvalidParameter;
        size_t fit = size / sizeof(Record), count = records.size() - next < fit ? records.size() - next : fit;
        std::memcpy(buffer, records.data() + next, count * sizeof(Record));
        next += count;
        completed(nullptr, 0, buffer, size, count * sizeof(Record));
    }
    return Success;
}

int cuptiActivityGetNextRecord(uint8_t* buffer, size_t valid, void** record)
{
    if (buffer == nullptr || record == nullptr) return InvalidParameter;
    size_t offset = *record == nullptr ? 0 : static_cast<size_t>(static_cast<uint8_t*>(*record) - buffer) + sizeof(Record);
    if (offset + sizeof(Record) > valid) return MaxLimitReached;
    *record = buffer + offset;
    return Success;
}

int cuptiActivityGetNumDroppedRecords(void*, uint32_t, size_t* dropped)
{
    if (dropped == nullptr) return InvalidParameter;
    *dropped = 0;
    return Success;
}

// CUDA 11.8's CUPTI API version, the oldest whose kernel records the engine has been written against.
int cuptiGetVersion(uint32_t* version)
{
    if (version == nullptr) return InvalidParameter;
    *version = 17;
    return Success;
}

int cuptiGetResultString(int result, const char** text)
{
    if (text == nullptr) return InvalidParameter;
    switch (result)
    {
    case Success: *text = "CUPTI_SUCCESS"; return Success;
    case InvalidParameter: *text = "CUPTI_ERROR_INVALID_PARAMETER"; return Success;
    case MaxLimitReached: *text = "CUPTI_ERROR_MAX_LIMIT_REACHED"; return Success;
    case NotInitialized: *text = "CUPTI_ERROR_NOT_INITIALIZED"; return Success;
    case InvalidKind: *text = "CUPTI_ERROR_INVALID_KIND"; return Success;
    default: *text = "CUPTI_ERROR_UNKNOWN"; return InvalidParameter;
    }
}

} // extern "C"
