// selftest_driver_memory.cpp: part of the fake driver's self-test (see selftest_driver.cpp): allocation, copies and fills,
// streams and events.
#include <chrono>
#include <climits>
#include <cmath>
#include <cstddef>
#include <thread>
#include <vector>

#include "selftest_driver.h"

namespace selftest {

void test_memory()
{
    section("memory");
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

void test_streams_and_events()
{
    section("streams and events");
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

} // namespace selftest
