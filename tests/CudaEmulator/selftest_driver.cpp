// selftest_driver.cpp: checks the fake driver (libcuda.so.1: fake_driver.h, driver_*.cpp) on its own, through dlopen
// and the real API's signatures as the backend binds them: device queries, contexts, memory, events, module loading,
// launches, stream capture and graph replay, and that misuse gets the real driver's error codes. Uses
// selftest_module.so. Its sections of checks are in this file and selftest_driver_{memory,launch,capture,memcheck}.cpp;
// selftest_driver.h has what they share.
//
// Build: g++ -std=c++17 -O2 -Wall -Wextra -o selftest_driver selftest_driver.cpp selftest_driver_memory.cpp
//            selftest_driver_launch.cpp selftest_driver_capture.cpp selftest_driver_memcheck.cpp -ldl -lpthread
// Run:   ./selftest_driver <path of libcuda.so.1> <path of selftest_module.so>     (exit status 0: all passed)
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <dlfcn.h>

#include "selftest_driver.h"

namespace selftest {

void test_errors_and_device()
{
    section("errors and device");
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

void test_context()
{
    section("context");
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

} // namespace selftest

using namespace selftest;

int main(int argc, char** argv)
{
    const bool child = argc == 4 && std::strcmp(argv[3], "--memcheck-child") == 0;
    if (argc != 3 && !child)
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

    if (child) return memcheck_child();
    test_errors_and_device();
    test_context();
    test_memory();
    test_streams_and_events();
    test_modules_and_launches();
    test_launch_failure();
    test_capture_and_replay();
    test_capture_misuse();
    test_threads();
    test_replay_after_free_and_teardown();
    test_memcheck(argv[0], argv[1]);

    std::printf("selftest_driver: %d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
