// selftest_driver.cpp: checks the fake driver (libcuda.so.1, fake_driver.cpp) on its own, through dlopen and the real
// API's signatures as the backend binds them: device queries, contexts, memory, events, module loading, launches,
// stream capture and graph replay, and that misuse gets the real driver's error codes. Uses selftest_module.so.
//
// Build: g++ -std=c++17 -O2 -Wall -Wextra -o selftest_driver selftest_driver.cpp -ldl -lpthread
// Run:   ./selftest_driver <path of libcuda.so.1> <path of selftest_module.so>     (exit status 0: all passed)
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <dlfcn.h>

namespace {

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
    name##_type name = nullptr;
API(DECLARE)
#undef DECLARE

int checks = 0, failures = 0;

void check(bool ok, const char* what, int line)
{
    checks++;
    if (ok) return;
    failures++;
    std::printf("  FAIL (line %d): %s\n", line, what);
}

const char* error_name(CUresult status)
{
    const char* name = nullptr;
    return cuGetErrorName != nullptr && cuGetErrorName(status, &name) == 0 && name != nullptr ? name : "?";
}

void expect(CUresult got, CUresult want, const char* call, int line)
{
    checks++;
    if (got == want) return;
    failures++;
    std::printf("  FAIL (line %d): %s returned %d %s, expected %d %s\n", line, call, got, error_name(got), want, error_name(want));
}

#define CHECK(condition) check((condition), #condition, __LINE__)
#define EXPECT(call, status) expect((call), (status), #call, __LINE__)
#define OK(call) expect((call), 0, #call, __LINE__)

void section(const char* name) { std::printf("%s\n", name); }

constexpr int kN = 256;
constexpr size_t kBytes = kN * sizeof(float);
Handle context = nullptr;

std::vector<float> download(CUdeviceptr p, int n = kN)
{
    std::vector<float> host(n);
    OK(cuMemcpyDtoH_v2(host.data(), p, n * sizeof(float)));
    return host;
}

void upload(CUdeviceptr p, const std::vector<float>& host) { OK(cuMemcpyHtoD_v2(p, host.data(), host.size() * sizeof(float))); }

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

int fill_work(const void* data, char* error, size_t error_size)
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

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3)
    {
        std::fprintf(stderr, "usage: %s <libcuda.so.1> <selftest_module.so>\n", argv[0]);
        return 2;
    }
    void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr)
    {
        std::fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
        return 2;
    }
    char module_path[PATH_MAX];
    if (realpath(argv[2], module_path) == nullptr)
    {
        std::fprintf(stderr, "no module at %s\n", argv[2]);
        return 2;
    }

    section("exports");
#define BIND(name, type)                                                                                                     \
    name = reinterpret_cast<name##_type>(dlsym(library, #name));                                                                    \
    check(name != nullptr, "export " #name, __LINE__);
    API(BIND)
#undef BIND
    if (failures > 0)
    {
        std::printf("selftest_driver: exports missing, stopping\n");
        return 1;
    }

    section("errors and device");
    {
        const char* text = nullptr;
        OK(cuGetErrorName(0, &text));
        CHECK(std::strcmp(text, "CUDA_SUCCESS") == 0);
        OK(cuGetErrorName(1, &text));
        CHECK(std::strcmp(text, "CUDA_ERROR_INVALID_VALUE") == 0);
        OK(cuGetErrorName(900, &text));
        CHECK(std::strcmp(text, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED") == 0);
        OK(cuGetErrorString(2, &text));
        CHECK(text != nullptr && text[0] != 0);
        EXPECT(cuGetErrorName(123456, &text), 1);
        CHECK(text == nullptr);

        int n = 0;
        EXPECT(cuDeviceGetCount(&n), 3); // before cuInit
        OK(cuInit(0));
        OK(cuDriverGetVersion(&n));
        CHECK(n == 11080);
        OK(cuDeviceGetCount(&n));
        CHECK(n == 1);
        int device = -1;
        OK(cuDeviceGet(&device, 0));
        CHECK(device == 0);
        EXPECT(cuDeviceGet(&device, 1), 101);
        const int attributes[][2] = {{75, 9}, {76, 0}, {16, 4}, {1, 1024}, {2, 1024}, {4, 64}, {5, 2147483647}, {8, 49152}, {10, 32},
                                     {38, 50 << 20}, {39, 2048}, {81, 233472}, {82, 65536}, {97, 232448}, {111, 1024}, {9999, 0}};
        for (const auto& a : attributes)
        {
            int v = -1;
            OK(cuDeviceGetAttribute(&v, a[0], 0));
            if (v != a[1]) std::printf("  attribute %d = %d, expected %d\n", a[0], v, a[1]);
            CHECK(v == a[1]);
        }
        char name[256];
        OK(cuDeviceGetName(name, sizeof name, 0));
        CHECK(std::strcmp(name, "PixelLLM CUDA emulator (CPU)") == 0);
        size_t total = 0;
        OK(cuDeviceTotalMem_v2(&total, 0));
        CHECK(total == (size_t(16) << 30));
        unsigned total32 = 0;
        OK(cuDeviceTotalMem(&total32, 0));
        CHECK(total32 == UINT_MAX);
    }

    section("context");
    {
        CUdeviceptr p = 0;
        EXPECT(cuMemAlloc_v2(&p, 16), 201); // no current context yet
        OK(cuDevicePrimaryCtxRetain(&context, 0));
        CHECK(context != nullptr);
        Handle current = reinterpret_cast<Handle>(1);
        OK(cuCtxGetCurrent(&current));
        CHECK(current == nullptr);
        OK(cuCtxSetCurrent(context));
        OK(cuCtxGetCurrent(&current));
        CHECK(current == context);
        on_other_thread([] {}); // sets it there: per thread
    }

    section("memory");
    {
        size_t free0 = 0, free1 = 0, total = 0;
        OK(cuMemGetInfo_v2(&free0, &total));
        CUdeviceptr p = 0;
        OK(cuMemAlloc_v2(&p, 1000));
        CHECK(p % 256 == 0);
        OK(cuMemGetInfo_v2(&free1, &total));
        CHECK(free0 - free1 == 1024);
        std::vector<float> fresh = download(p, 250);
        CHECK(std::isnan(fresh[0]) && std::isnan(fresh[249]));
        std::vector<float> values(250);
        for (int i = 0; i < 250; i++) values[i] = (float)i;
        upload(p, values);
        CHECK(download(p, 250) == values);
        std::vector<unsigned char> bytes(1001);
        EXPECT(cuMemcpyDtoH_v2(bytes.data(), p, 1001), 1); // past the end of the allocation
        EXPECT(cuMemcpyHtoD_v2(p + 8, bytes.data(), 993), 1);
        OK(cuMemsetD8Async(p + 4, 0, 4, nullptr));
        std::vector<float> after = download(p, 3);
        CHECK(after[0] == 0.0f && after[1] == 0.0f && after[2] == 2.0f);
        CUdeviceptr q = 0;
        OK(cuMemAllocAsync(&q, 1000, nullptr));
        OK(cuMemcpyDtoDAsync_v2(q, p, 1000, nullptr));
        CHECK(download(q, 250) == download(p, 250));
        EXPECT(cuMemcpyDtoDAsync_v2(q + 4, p, 1000, nullptr), 1);
        OK(cuMemFreeAsync(q, nullptr));
        EXPECT(cuMemFree_v2(p + 4), 1); // not the start of an allocation
        EXPECT(cuMemFree((unsigned)p), 1); // a 32-bit pointer names no allocation here
        OK(cuMemFree_v2(p));
        EXPECT(cuMemFree_v2(p), 1);
        EXPECT(cuMemAlloc_v2(&p, 0), 1);
        EXPECT(cuMemAlloc_v2(&p, size_t(17) << 30), 2);
        OK(cuMemGetInfo_v2(&free1, &total));
        CHECK(free1 == free0);
        unsigned free32 = 0, total32 = 0;
        OK(cuMemGetInfo(&free32, &total32));
        CHECK(total32 == UINT_MAX);
        void* pinned = nullptr;
        OK(cuMemAllocHost_v2(&pinned, 64));
        CHECK(pinned != nullptr);
        OK(cuMemsetD8Async(reinterpret_cast<CUdeviceptr>(pinned), 7, 64, nullptr)); // unified addressing
        CHECK(static_cast<unsigned char*>(pinned)[63] == 7);
        EXPECT(cuMemFree_v2(reinterpret_cast<CUdeviceptr>(pinned)), 1);
        OK(cuMemFreeHost(pinned));
        EXPECT(cuMemFreeHost(pinned), 1);
    }

    section("streams and events");
    Handle s1 = nullptr, s2 = nullptr;
    {
        EXPECT(cuStreamCreate(&s1, 4), 1);
        OK(cuStreamCreate(&s1, 1));
        OK(cuStreamCreate(&s2, 1));
        Handle start = nullptr, end = nullptr, untimed = nullptr, never = nullptr;
        OK(cuEventCreate(&start, 0));
        OK(cuEventCreate(&end, 0));
        OK(cuEventCreate(&untimed, 2));
        OK(cuEventCreate(&never, 0));
        OK(cuEventRecord(start, s1));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        OK(cuEventRecord(end, s1));
        OK(cuEventSynchronize(end));
        float ms = -1;
        OK(cuEventElapsedTime(&ms, start, end));
        CHECK(ms >= 19.0f && ms < 2000.0f);
        OK(cuEventRecord(untimed, s1));
        EXPECT(cuEventElapsedTime(&ms, start, untimed), 400);
        EXPECT(cuEventElapsedTime(&ms, start, never), 400);
        OK(cuStreamWaitEvent(s2, end, 0));
        OK(cuStreamSynchronize(s1));
        OK(cuStreamSynchronize(nullptr));
        for (Handle e : {start, end, untimed}) OK(cuEventDestroy_v2(e));
        OK(cuEventDestroy(never));
        EXPECT(cuEventDestroy_v2(start), 400);
        Handle s3 = nullptr;
        OK(cuStreamCreate(&s3, 0));
        OK(cuStreamDestroy(s3));
        EXPECT(cuStreamDestroy_v2(s3), 400);
        EXPECT(cuStreamDestroy_v2(nullptr), 400);
    }

    section("modules and launches");
    Handle module = nullptr, add_one = nullptr, axpb = nullptr, fill_pair = nullptr, fail_always = nullptr;
    CUdeviceptr x = 0, y = 0, z = 0, w = 0, h = 0;
    {
        EXPECT(cuModuleLoadData(&module, "// PTX\n.version 8.0\n"), 200);
        EXPECT(cuModuleLoadData(&module, "PXLEMU-MODULE /nonexistent/module.so\n"), 200);
        EXPECT(cuModuleLoadData(&module, "PXLEMU-MODULE relative.so\n"), 200);
        const std::string image = std::string("PXLEMU-MODULE ") + module_path + "\n";
        OK(cuModuleLoadData(&module, image.c_str()));
        OK(cuModuleGetFunction(&add_one, module, "add_one"));
        OK(cuModuleGetFunction(&axpb, module, "axpb"));
        OK(cuModuleGetFunction(&fill_pair, module, "fill_pair"));
        OK(cuModuleGetFunction(&fail_always, module, "fail_always"));
        Handle missing = nullptr;
        EXPECT(cuModuleGetFunction(&missing, module, "no_such_kernel"), 500);

        for (CUdeviceptr* p : {&x, &y, &z, &w, &h}) OK(cuMemAlloc_v2(p, kBytes));
        std::vector<float> input(kN);
        for (int i = 0; i < kN; i++) input[i] = (float)i;
        upload(x, input);
        int n = kN;
        void* args[] = {&x, &y, &n};
        OK(cuLaunchKernel(add_one, 4, 1, 1, 32, 1, 1, 0, s1, args, nullptr));
        std::vector<float> out = download(y);
        bool right = true;
        for (int i = 0; i < kN; i++) right = right && out[i] == (float)i + 1.0f;
        CHECK(right);

        EXPECT(cuLaunchKernel(add_one, 1, 1, 1, 1025, 1, 1, 0, s1, args, nullptr), 1);
        EXPECT(cuLaunchKernel(add_one, 1, 1, 1, 16, 1, 65, 0, s1, args, nullptr), 1);
        EXPECT(cuLaunchKernel(add_one, 0, 1, 1, 32, 1, 1, 0, s1, args, nullptr), 1);
        EXPECT(cuLaunchKernel(add_one, 1, 65536, 1, 32, 1, 1, 0, s1, args, nullptr), 1);
        EXPECT(cuLaunchKernel(add_one, 1, 1, 1, 32, 1, 1, 0, s1, nullptr, nullptr), 1);
        void* extra[] = {nullptr};
        EXPECT(cuLaunchKernel(add_one, 1, 1, 1, 32, 1, 1, 0, s1, args, extra), 1);
        EXPECT(cuLaunchKernel(add_one, 1, 1, 1, 32, 1, 1, 65536, s1, args, nullptr), 1); // not opted in
        OK(cuFuncSetAttribute(add_one, 8, 65536));
        OK(cuLaunchKernel(add_one, 1, 1, 1, 32, 1, 1, 65536, s1, args, nullptr));
        EXPECT(cuLaunchKernel(add_one, 1, 1, 1, 32, 1, 1, 65537, s1, args, nullptr), 1);
        EXPECT(cuFuncSetAttribute(add_one, 8, 232449), 1);
        OK(cuFuncSetAttribute(add_one, 9, 100));
        EXPECT(cuFuncSetAttribute(reinterpret_cast<Handle>(&n), 8, 0), 400);
        EXPECT(cuLaunchKernel(reinterpret_cast<Handle>(&n), 1, 1, 1, 1, 1, 1, 0, s1, args, nullptr), 400);
        EXPECT(cuLaunchKernel(add_one, 1, 1, 1, 1, 1, 1, 0, reinterpret_cast<Handle>(&n), args, nullptr), 400);

        float a = 2.0f, b = 3.0f;
        void* axpb_args[] = {&x, &z, &a, &b, &n};
        LaunchAttribute attribute{};
        attribute.id = 6; // programmatic stream serialization: accepted, ignored
        attribute.value[0] = 1;
        LaunchConfig config{2, 1, 1, 64, 1, 1, 0, s1, &attribute, 1};
        OK(cuLaunchKernelEx(&config, axpb, axpb_args, nullptr));
        out = download(z);
        right = true;
        for (int i = 0; i < kN; i++) right = right && out[i] == 2.0f * i + 3.0f;
        CHECK(right);
        config.attributes = nullptr;
        EXPECT(cuLaunchKernelEx(&config, axpb, axpb_args, nullptr), 1);

        struct
        {
            double value;
            char tag;
        } pair{0.5, 2};
        static_assert(sizeof pair == 16, "Pair is 16 bytes");
        void* pair_args[] = {&w, &pair, &n};
        OK(cuLaunchKernel(fill_pair, 1, 1, 1, 1, 1, 1, 0, nullptr, pair_args, nullptr));
        CHECK(download(w)[kN - 1] == 2.5f);
    }

    section("launch failure");
    {
        int code = 1;
        void* args[] = {&code};
        const CUresult status = cuLaunchKernel(fail_always, 2, 1, 1, 4, 1, 1, 0, s1, args, nullptr);
        if (status == 0)
            std::printf("  skipped: this runtime has no pxlemu_trap, so fail_always could not fail\n");
        else
        {
            EXPECT(status, 719);
            const char* text = nullptr;
            OK(cuGetErrorString(719, &text));
            CHECK(text != nullptr && std::strncmp(text, "emulated kernel fail_always failed: ", 36) == 0);
            std::printf("  cuGetErrorString(719) = \"%s\"\n", text != nullptr ? text : "(null)");
        }
        FillWork bad{h, -1, 0.0f};
        EXPECT(pxlemu_stream_enqueue(s1, "test fill", &fill_work, &bad, sizeof bad), 719);
        const char* text = nullptr;
        OK(cuGetErrorString(719, &text));
        CHECK(text != nullptr && std::strcmp(text, "emulated test fill failed: negative count -1") == 0);
        FillWork good{h, kN, 5.0f};
        OK(pxlemu_stream_enqueue(s1, "test fill", &fill_work, &good, sizeof good));
        CHECK(download(h)[7] == 5.0f);
    }

    section("capture and replay");
    Handle fork = nullptr, join = nullptr, exec = nullptr;
    {
        OK(cuEventCreate(&fork, 2));
        OK(cuEventCreate(&join, 2));
        EXPECT(cuStreamBeginCapture_v2(nullptr, 1), 900); // the legacy stream cannot be captured
        OK(cuStreamBeginCapture_v2(s1, 1));
        int status = -1;
        OK(cuStreamIsCapturing(s1, &status));
        CHECK(status == 1);
        OK(cuStreamIsCapturing(s2, &status));
        CHECK(status == 0);
        EXPECT(cuStreamBeginCapture_v2(s2, 1), 401);

        // s1: y = 0, y = x + 1; fork s2: z = 2y + 3, h = 7; join; s1: w = z.
        OK(cuMemsetD8Async(y, 0, kBytes, s1));
        struct
        {
            CUdeviceptr in, out;
            int n;
            float a, b;
        } values{x, y, kN, 2.0f, 3.0f};
        void* args[] = {&values.in, &values.out, &values.n};
        OK(cuLaunchKernel(add_one, 4, 1, 1, 32, 1, 1, 0, s1, args, nullptr));
        values = {0, 0, -1, 0.0f, 0.0f}; // the caller reuses its argument buffer: the graph must have its own copy
        OK(cuEventRecord(fork, s1));
        OK(cuStreamWaitEvent(s2, fork, 0));
        OK(cuStreamIsCapturing(s2, &status));
        CHECK(status == 1);
        values = {y, z, kN, 2.0f, 3.0f};
        void* axpb_args[] = {&values.in, &values.out, &values.a, &values.b, &values.n};
        OK(cuLaunchKernel(axpb, 1, 1, 1, 1, 1, 1, 0, s2, axpb_args, nullptr));
        FillWork work{h, kN, 7.0f};
        OK(pxlemu_stream_enqueue(s2, "test fill", &fill_work, &work, sizeof work));
        work.value = -1.0f;
        OK(cuEventRecord(join, s2));
        OK(cuStreamWaitEvent(s1, join, 0));
        OK(cuMemcpyDtoDAsync_v2(w, z, kBytes, s1));

        // Nothing ran, and what the real driver refuses during a capture is refused.
        CUdeviceptr p = 0;
        EXPECT(cuMemcpyDtoH_v2(&p, y, sizeof p), 900);
        EXPECT(cuMemcpyHtoD_v2(y, &p, sizeof p), 900);
        EXPECT(cuMemAlloc_v2(&p, 64), 900);
        EXPECT(cuMemFree_v2(x), 900);
        EXPECT(cuEventSynchronize(fork), 907);
        on_other_thread([&] { // thread-local mode: another thread may still read
            std::vector<float> seen = download(y);
            CHECK(seen[0] == 1.0f); // still y = x + 1 from before the capture: neither the fill nor the launch ran
            CHECK(download(h)[0] == 5.0f);
        });

        Handle graph = nullptr;
        on_other_thread([&] { EXPECT(cuStreamEndCapture(s1, &graph), 908); });
        EXPECT(cuStreamEndCapture(s2, &graph), 903);
        OK(cuStreamEndCapture(s1, &graph));
        OK(cuStreamIsCapturing(s1, &status));
        CHECK(status == 0);
        OK(cuGraphInstantiateWithFlags(&exec, graph, 0));
        OK(cuGraphDestroy(graph));
        EXPECT(cuGraphDestroy(graph), 400);

        for (float scale : {1.0f, 10.0f})
        {
            std::vector<float> input(kN);
            for (int i = 0; i < kN; i++) input[i] = scale * i;
            upload(x, input);
            OK(cuMemsetD8Async(w, 0xFF, kBytes, nullptr));
            OK(cuGraphLaunch(exec, s1));
            OK(cuStreamSynchronize(s1));
            std::vector<float> out = download(w), filled = download(h);
            bool right = true;
            for (int i = 0; i < kN; i++) right = right && out[i] == 2.0f * (scale * i + 1.0f) + 3.0f && filled[i] == 7.0f;
            CHECK(right);
        }

        // A graph launched into a capture becomes part of it.
        OK(cuStreamBeginCapture_v2(s1, 1));
        OK(cuMemsetD8Async(h, 0, kBytes, s1));
        OK(cuGraphLaunch(exec, s1));
        OK(cuStreamEndCapture(s1, &graph));
        Handle outer = nullptr;
        OK(cuGraphInstantiateWithFlags(&outer, graph, 0));
        OK(cuGraphDestroy(graph));
        OK(cuMemsetD8Async(w, 0, kBytes, nullptr));
        OK(cuGraphLaunch(outer, s2));
        CHECK(download(w)[3] == 2.0f * (10.0f * 3 + 1.0f) + 3.0f && download(h)[3] == 7.0f);
        OK(cuGraphExecDestroy(outer));
        EXPECT(cuGraphExecDestroy(outer), 400);
    }

    section("capture misuse");
    {
        Handle graph = reinterpret_cast<Handle>(1);
        // Synchronising the capturing stream invalidates the capture; later work on it says so.
        OK(cuStreamBeginCapture_v2(s1, 1));
        EXPECT(cuStreamSynchronize(s1), 900);
        EXPECT(cuMemsetD8Async(y, 0, 4, s1), 901);
        EXPECT(cuStreamEndCapture(s1, &graph), 901);
        CHECK(graph == nullptr);

        // A fork that is not joined back.
        OK(cuStreamBeginCapture_v2(s1, 1));
        OK(cuEventRecord(fork, s1));
        OK(cuStreamWaitEvent(s2, fork, 0));
        OK(cuMemsetD8Async(y, 0, 4, s2));
        EXPECT(cuStreamEndCapture(s1, &graph), 904);
        EXPECT(cuStreamEndCapture(s1, &graph), 401); // it is over

        // A stream outside the capture runs at once; an allocation on a capturing stream is refused.
        OK(cuStreamBeginCapture_v2(s1, 1));
        OK(cuMemsetD8Async(y, 0, kBytes, s2));
        on_other_thread([&] { CHECK(download(y)[0] == 0.0f); });
        CUdeviceptr p = 0;
        EXPECT(cuMemAllocAsync(&p, 64, s1), 900);
        EXPECT(cuStreamEndCapture(s1, &graph), 901);

        // Global mode (the unsuffixed cuStreamBeginCapture) forbids unsafe calls on every thread.
        OK(cuStreamBeginCapture(s1));
        on_other_thread([&] {
            float v = 0;
            EXPECT(cuMemcpyDtoH_v2(&v, y, sizeof v), 900);
        });
        OK(cuStreamEndCapture(s1, &graph));
        OK(cuGraphDestroy(graph));

        // An empty capture is a graph that does nothing.
        OK(cuStreamBeginCapture_v2(s1, 2));
        OK(cuStreamEndCapture(s1, &graph));
        Handle empty = nullptr;
        OK(cuGraphInstantiateWithFlags(&empty, graph, 0));
        OK(cuGraphLaunch(empty, s1));
        OK(cuGraphExecDestroy(empty));
        OK(cuGraphDestroy(graph));
    }

    section("threads");
    {
        std::vector<std::thread> threads;
        std::vector<int> wrong(4, 0);
        for (int t = 0; t < 4; t++)
            threads.emplace_back([&, t] {
                cuCtxSetCurrent(context);
                for (int round = 0; round < 50; round++)
                {
                    CUdeviceptr in = 0, out = 0;
                    int n = 64;
                    if (cuMemAlloc_v2(&in, n * sizeof(float)) != 0 || cuMemAlloc_v2(&out, n * sizeof(float)) != 0)
                    {
                        wrong[t]++;
                        continue;
                    }
                    std::vector<float> host(n, (float)(t * 1000 + round)), back(n);
                    void* args[] = {&in, &out, &n};
                    if (cuMemcpyHtoD_v2(in, host.data(), n * sizeof(float)) != 0 ||
                        cuLaunchKernel(add_one, 2, 1, 1, 8, 1, 1, 0, nullptr, args, nullptr) != 0 ||
                        cuMemcpyDtoH_v2(back.data(), out, n * sizeof(float)) != 0 || back[n - 1] != host[0] + 1.0f)
                        wrong[t]++;
                    if (cuMemFree_v2(in) != 0 || cuMemFree_v2(out) != 0) wrong[t]++;
                }
            });
        for (std::thread& t : threads) t.join();
        for (int t = 0; t < 4; t++) CHECK(wrong[t] == 0);
    }

    section("replay after free, teardown");
    {
        OK(cuMemFree_v2(w));
        EXPECT(cuGraphLaunch(exec, s1), 700); // its copy writes to w
        const char* text = nullptr;
        OK(cuGetErrorString(700, &text));
        CHECK(text != nullptr && std::strstr(text, "graph replay") != nullptr);
        OK(cuGraphExecDestroy(exec));
        OK(cuModuleUnload(module));
        int n = 1;
        void* args[] = {&x, &y, &n};
        EXPECT(cuLaunchKernel(add_one, 1, 1, 1, 1, 1, 1, 0, s1, args, nullptr), 400);
        EXPECT(cuModuleUnload(module), 400);
        for (CUdeviceptr p : {x, y, z, h}) OK(cuMemFree_v2(p));
        size_t free = 0, total = 0;
        OK(cuMemGetInfo_v2(&free, &total));
        CHECK(free == total);
        OK(cuEventDestroy_v2(fork));
        OK(cuEventDestroy_v2(join));
        OK(cuStreamDestroy_v2(s1));
        OK(cuStreamDestroy_v2(s2));
        OK(cuDevicePrimaryCtxRelease_v2(0));
        EXPECT(cuDevicePrimaryCtxRelease(0), 201);
    }

    std::printf("selftest_driver: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
