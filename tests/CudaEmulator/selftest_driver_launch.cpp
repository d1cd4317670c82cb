// selftest_driver_launch.cpp: part of the fake driver's self-test (see selftest_driver.cpp): module loading, launches and
// their misuse, a kernel and host work that fail, and launches from several threads at once.
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "selftest_driver.h"

namespace selftest {

void test_modules_and_launches()
{
    section("modules and launches");
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

void test_launch_failure()
{
    section("launch failure");
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

void test_threads()
{
    section("threads");
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

} // namespace selftest
