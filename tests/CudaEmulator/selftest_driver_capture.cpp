// selftest_driver_capture.cpp: part of the fake driver's self-test (see selftest_driver.cpp): stream capture and graph
// replay, what a capture refuses, a replay after a free, and the teardown.
#include <cstring>
#include <vector>

#include "selftest_driver.h"

namespace selftest {

void test_capture_and_replay()
{
    section("capture and replay");
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

void test_capture_misuse()
{
    section("capture misuse");
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

void test_replay_after_free_and_teardown()
{
    section("replay after free, teardown");
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

} // namespace selftest
