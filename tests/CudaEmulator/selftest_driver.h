// selftest_driver.h: what the files of the fake driver's self-test (selftest_driver*.cpp; see selftest_driver.cpp)
// share: the API's types and entry points as bound, the counters and check macros, helpers, what a section of checks
// hands on to later ones, and the sections, which main runs in the order listed here.
#pragma once
#include <climits>
#include <cstddef>
#include <cstdio>
#include <thread>
#include <vector>

namespace selftest {

using CUresult = int;
using CUdeviceptr = unsigned long long;
using Handle = void*;

struct LaunchAttribute
{
    int id;
    int pad;
    int value[16];
};

struct LaunchConfig
{
    unsigned gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes;
    Handle stream;
    LaunchAttribute* attributes;
    unsigned attributeCount;
};

using HostWork = int (*)(const void* data, char* error, size_t error_size);

// The entry points, with the signatures the backend binds (src/PixelLLM.Backends.Cuda/Interop/CudaDriver*.cs).
#define API(X)                                                                                                               \
    X(cuGetErrorName, CUresult (*)(CUresult, const char**))                                                                  \
    X(cuGetErrorString, CUresult (*)(CUresult, const char**))                                                                \
    X(cuInit, CUresult (*)(unsigned))                                                                                        \
    X(cuDriverGetVersion, CUresult (*)(int*))                                                                                \
    X(cuDeviceGetCount, CUresult (*)(int*))                                                                                  \
    X(cuDeviceGet, CUresult (*)(int*, int))                                                                                  \
    X(cuDeviceGetAttribute, CUresult (*)(int*, int, int))                                                                    \
    X(cuDeviceGetName, CUresult (*)(char*, int, int))                                                                        \
    X(cuDeviceTotalMem_v2, CUresult (*)(size_t*, int))                                                                       \
    X(cuDeviceTotalMem, CUresult (*)(unsigned*, int))                                                                        \
    X(cuDevicePrimaryCtxRetain, CUresult (*)(Handle*, int))                                                                  \
    X(cuDevicePrimaryCtxRelease_v2, CUresult (*)(int))                                                                       \
    X(cuDevicePrimaryCtxRelease, CUresult (*)(int))                                                                          \
    X(cuCtxSetCurrent, CUresult (*)(Handle))                                                                                 \
    X(cuCtxGetCurrent, CUresult (*)(Handle*))                                                                                \
    X(cuModuleLoadData, CUresult (*)(Handle*, const void*))                                                                  \
    X(cuModuleUnload, CUresult (*)(Handle))                                                                                  \
    X(cuModuleGetFunction, CUresult (*)(Handle*, Handle, const char*))                                                       \
    X(cuFuncSetAttribute, CUresult (*)(Handle, int, int))                                                                    \
    X(cuLaunchKernel, CUresult (*)(Handle, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, Handle, void**, void**)) \
    X(cuLaunchKernelEx, CUresult (*)(const LaunchConfig*, Handle, void**, void**))                                           \
    X(cuMemAlloc_v2, CUresult (*)(CUdeviceptr*, size_t))                                                                     \
    X(cuMemFree_v2, CUresult (*)(CUdeviceptr))                                                                               \
    X(cuMemFree, CUresult (*)(unsigned))                                                                                     \
    X(cuMemAllocAsync, CUresult (*)(CUdeviceptr*, size_t, Handle))                                                           \
    X(cuMemFreeAsync, CUresult (*)(CUdeviceptr, Handle))                                                                     \
    X(cuMemGetInfo_v2, CUresult (*)(size_t*, size_t*))                                                                       \
    X(cuMemGetInfo, CUresult (*)(unsigned*, unsigned*))                                                                      \
    X(cuMemAllocHost_v2, CUresult (*)(void**, size_t))                                                                       \
    X(cuMemFreeHost, CUresult (*)(void*))                                                                                    \
    X(cuMemcpyHtoD_v2, CUresult (*)(CUdeviceptr, const void*, size_t))                                                       \
    X(cuMemcpyDtoH_v2, CUresult (*)(void*, CUdeviceptr, size_t))                                                             \
    X(cuMemcpyDtoDAsync_v2, CUresult (*)(CUdeviceptr, CUdeviceptr, size_t, Handle))                                          \
    X(cuMemsetD8Async, CUresult (*)(CUdeviceptr, unsigned char, size_t, Handle))                                             \
    X(cuStreamCreate, CUresult (*)(Handle*, unsigned))                                                                       \
    X(cuStreamDestroy_v2, CUresult (*)(Handle))                                                                              \
    X(cuStreamDestroy, CUresult (*)(Handle))                                                                                 \
    X(cuStreamSynchronize, CUresult (*)(Handle))                                                                             \
    X(cuStreamWaitEvent, CUresult (*)(Handle, Handle, unsigned))                                                             \
    X(cuStreamIsCapturing, CUresult (*)(Handle, int*))                                                                       \
    X(cuEventCreate, CUresult (*)(Handle*, unsigned))                                                                        \
    X(cuEventRecord, CUresult (*)(Handle, Handle))                                                                           \
    X(cuEventSynchronize, CUresult (*)(Handle))                                                                              \
    X(cuEventElapsedTime, CUresult (*)(float*, Handle, Handle))                                                              \
    X(cuEventDestroy_v2, CUresult (*)(Handle))                                                                               \
    X(cuEventDestroy, CUresult (*)(Handle))                                                                                  \
    X(cuStreamBeginCapture_v2, CUresult (*)(Handle, int))                                                                    \
    X(cuStreamBeginCapture, CUresult (*)(Handle))                                                                            \
    X(cuStreamEndCapture, CUresult (*)(Handle, Handle*))                                                                     \
    X(cuGraphInstantiateWithFlags, CUresult (*)(Handle*, Handle, unsigned long long))                                        \
    X(cuGraphLaunch, CUresult (*)(Handle, Handle))                                                                           \
    X(cuGraphExecDestroy, CUresult (*)(Handle))                                                                              \
    X(cuGraphDestroy, CUresult (*)(Handle))                                                                                  \
    X(pxlemu_stream_enqueue, CUresult (*)(Handle, const char*, HostWork, const void*, size_t))

#define DECLARE(name, type)                                                                                                 \
    using name##_type = type;                                                                                                \
    inline name##_type name = nullptr;
API(DECLARE)
#undef DECLARE

inline int checks = 0, failures = 0;

inline void check(bool ok, const char* what, int line)
{
    checks++;
    if (ok) return;
    failures++;
    std::printf("  FAIL (line %d): %s\n", line, what);
}

inline const char* error_name(CUresult status)
{
    const char* name = nullptr;
    return cuGetErrorName != nullptr && cuGetErrorName(status, &name) == 0 && name != nullptr ? name : "?";
}

inline void expect(CUresult got, CUresult want, const char* call, int line)
{
    checks++;
    if (got == want) return;
    failures++;
    std::printf("  FAIL (line %d): %s returned %d %s, expected %d %s\n", line, call, got, error_name(got), want, error_name(want));
}

#define CHECK(condition) check((condition), #condition, __LINE__)
#define EXPECT(call, status) expect((call), (status), #call, __LINE__)
#define OK(call) expect((call), 0, #call, __LINE__)

inline void section(const char* name) { std::printf("%s\n", name); }

constexpr int kN = 256;
constexpr size_t kBytes = kN * sizeof(float);
inline Handle context = nullptr; // the primary context (context)

inline std::vector<float> download(CUdeviceptr p, int n = kN)
{
    std::vector<float> host(n);
    OK(cuMemcpyDtoH_v2(host.data(), p, n * sizeof(float)));
    return host;
}

inline void upload(CUdeviceptr p, const std::vector<float>& host) { OK(cuMemcpyHtoD_v2(p, host.data(), host.size() * sizeof(float))); }

// Runs `body` on a new thread with the context current there.
template <typename F> void on_other_thread(F body)
{
    std::thread([&] {
        OK(cuCtxSetCurrent(context));
        body();
    }).join();
}

struct FillWork
{
    CUdeviceptr p;
    int n;
    float value;
};

inline int fill_work(const void* data, char* error, size_t error_size)
{
    const FillWork* w = static_cast<const FillWork*>(data);
    if (w->n < 0)
    {
        std::snprintf(error, error_size, "negative count %d", w->n);
        return 1;
    }
    for (int i = 0; i < w->n; i++) reinterpret_cast<float*>(w->p)[i] = w->value;
    return 0;
}

// ---- what a section hands on to later ones ----------------------------------------------------------------------------

inline char module_path[PATH_MAX]; // selftest_module.so, as an absolute path (main)
// streams and events
inline Handle s1 = nullptr, s2 = nullptr;
// modules and launches
inline Handle module = nullptr, add_one = nullptr, axpb = nullptr, fill_pair = nullptr, fail_always = nullptr;
inline CUdeviceptr x = 0, y = 0, z = 0, w = 0, h = 0;
// capture and replay
inline Handle fork = nullptr, join = nullptr, exec = nullptr;

// ---- the sections, in order ------------------------------------------------------------------------------------------

void test_errors_and_device(); // selftest_driver.cpp
void test_context();
void test_memory(); // selftest_driver_memory.cpp
void test_streams_and_events();
void test_modules_and_launches(); // selftest_driver_launch.cpp
void test_launch_failure();
void test_capture_and_replay(); // selftest_driver_capture.cpp
void test_capture_misuse();
void test_threads(); // selftest_driver_launch.cpp
void test_replay_after_free_and_teardown(); // selftest_driver_capture.cpp
void test_memcheck(const char* self, const char* library); // selftest_driver_memcheck.cpp
int memcheck_child(); // … in the child that test_memcheck starts

} // namespace selftest
