// selftest_driver_memcheck.cpp: part of the fake driver's self-test (see selftest_driver.cpp): PIXELLLM_EMULATOR_MEMCHECK.
// The checks run in a child process (this program again, with --memcheck-child), since the access it must catch ends
// that process: in bounds, a kernel runs as usual; one element past an allocation, the child exits with the memcheck's
// code and a line naming the kernel, the thread and how far past which allocation it read.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "selftest_driver.h"

namespace selftest {

namespace {

constexpr int kMemcheckExitCode = 86; // fake_driver.h

} // namespace

int memcheck_child()
{
    OK(cuInit(0));
    OK(cuDevicePrimaryCtxRetain(&context, 0));
    OK(cuCtxSetCurrent(context));
    const std::string image = std::string("PXLEMU-MODULE ") + module_path + "\n";
    OK(cuModuleLoadData(&module, image.c_str()));
    OK(cuModuleGetFunction(&add_one, module, "add_one"));
    CUdeviceptr in = 0, out = 0;
    OK(cuMemAlloc_v2(&in, 100));
    OK(cuMemAlloc_v2(&out, 4096));
    CHECK(in % 16 == 0 && out % 16 == 0);
    CHECK(std::isnan(download(in, 25)[24]));
    std::vector<float> values(25, 2.0f);
    upload(in, values);
    int n = 25;
    void* args[] = {&in, &out, &n};
    OK(cuLaunchKernel(add_one, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr));
    CHECK(download(out, 25) == std::vector<float>(25, 3.0f));
    if (failures > 0) return 1;
    std::fflush(stdout);
    n = 40; // reads in[25 … 39]: the allocation's 100 bytes are padded to 112, so in[28] is on the inaccessible page
    cuLaunchKernel(add_one, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr);
    std::printf("memcheck child: the read past the allocation went unnoticed\n");
    return 1;
}

void test_memcheck(const char* self, const char* library)
{
    section("memcheck (a child process)");
    int pipe_ends[2];
    CHECK(pipe(pipe_ends) == 0);
    const pid_t child = ::fork();
    if (child == 0)
    {
        dup2(pipe_ends[1], STDERR_FILENO);
        close(pipe_ends[0]);
        setenv("PIXELLLM_EMULATOR_MEMCHECK", "1", 1);
        execl(self, self, library, module_path, "--memcheck-child", (char*)nullptr);
        _exit(127);
    }
    close(pipe_ends[1]);
    std::string report;
    char chunk[512];
    for (ssize_t got; (got = read(pipe_ends[0], chunk, sizeof chunk)) > 0;) report.append(chunk, (size_t)got);
    close(pipe_ends[0]);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == kMemcheckExitCode);
    CHECK(report.find("pxlemu memcheck: kernel add_one, thread (0,0,0) of block (0,0,0)") != std::string::npos);
    CHECK(report.find("12 bytes past the end of a 100-byte allocation") != std::string::npos);
    if (failures > 0) std::printf("  the child said: %s\n", report.c_str());
}

} // namespace selftest
