// selftest_runtime.cpp: checks the emulator's execution model on small kernels compiled through the fake NVRTC (against
// kernels/prelude.cuh and mma.cuh) and run by libpxlemu.so: barriers with exited threads, shuffles, warp collectives
// (ldmatrix + mma.sync against a host product), the poisoned shared memory, the thread orders, blocks that wait on
// each other, and a trap. Exits nonzero if any check fails.
//
// Build: g++ -std=c++17 -O2 -Wall -Wextra -o selftest_runtime selftest_runtime.cpp -ldl
// Run:   selftest_runtime <emulator folder (libnvrtc.so, libpxlemu.so)> <kernels folder>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <dlfcn.h>

#include "pxlemu.h"

namespace {

const char* kSource = R"(
#include "mma.cuh"

// Threads past `live` return at once; the rest meet at two barriers and sum their indices through shared memory.
extern "C" __global__ void barrier_after_exit(i32 live, float* y)
{
    __shared__ float partial[256];
    if ((i32)threadIdx.x >= live) return;
    partial[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    if (threadIdx.x == 0)
    {
        float sum = 0.0f;
        for (i32 i = 0; i < live; i++) sum += partial[i];
        y[0] = sum;
    }
    __syncthreads();
}

// warp_sum (butterfly shuffles) of lane + 1, and lane 5's value broadcast.
extern "C" __global__ void shuffles(float* y)
{
    const float mine = (float)(threadIdx.x + 1);
    y[threadIdx.x] = warp_sum(mine) + 1000.0f * __shfl_sync(PXL_FULL_MASK, mine, 5);
}

// One warp: A (16×16, row-major) and Bᵀ (8×16, row-major) through shared memory and ldmatrix, then D = A·B by mma.
extern "C" __global__ void mma_product(const bf16* a, const bf16* bt, float* d)
{
    __shared__ __align__(16) bf16 sa[16 * 16];
    __shared__ __align__(16) bf16 sb[8 * 16];
    const i32 lane = threadIdx.x;
    for (i32 i = lane; i < 256; i += 32) sa[i] = a[i];
    for (i32 i = lane; i < 128; i += 32) sb[i] = bt[i];
    __syncwarp();
    const i32 matrix = lane / 8, row = lane % 8;
    u32 fa[4], fb[4];
    pxl_ldmatrix_x4<false>(fa, pxl_shared_address(sa + (row + 8 * (matrix & 1)) * 16 + 8 * (matrix >> 1)));
    pxl_ldmatrix_x4<false>(fb, pxl_shared_address(sb + row * 16 + 8 * (matrix & 1)));
    float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    mma_16816<bf16>(c, fa, fb);
    const i32 g = lane / 4, t = lane % 4;
    d[g * 8 + 2 * t] = c[0];
    d[g * 8 + 2 * t + 1] = c[1];
    d[(g + 8) * 8 + 2 * t] = c[2];
    d[(g + 8) * 8 + 2 * t + 1] = c[3];
}

// Thread 1 reads what thread 0 wrote with no barrier between: right in one order of the threads only.
extern "C" __global__ void missing_barrier(float* y)
{
    __shared__ float slot[1];
    if (threadIdx.x == 0) slot[0] = 42.0f;
    if (threadIdx.x == 1) y[0] = slot[0];
}

// Block 1 waits for a flag block 0 raises: needs both resident at once.
extern "C" __global__ void handoff(i32* flag, float* y)
{
    if (threadIdx.x != 0) return;
    if (blockIdx.x == 0) { y[0] = 7.0f; __threadfence(); atomicExch(flag, 1); }
    else { while (atomicAdd(flag, 0) == 0) pxlemu_yield(); y[1] = y[0] + 1.0f; }
}

extern "C" __global__ void traps(i32 which)
{
    if ((i32)threadIdx.x == which) pxlemu_trap("asked to");
}
)";

int failures = 0;

void check(bool ok, const char* what)
{
    std::printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok) failures++;
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

float bf16_value(unsigned short bits)
{
    const unsigned widened = (unsigned)bits << 16;
    float f;
    std::memcpy(&f, &widened, 4);
    return f;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3)
    {
        std::fprintf(stderr, "usage: %s EMULATOR_FOLDER KERNELS_FOLDER\n", argv[0]);
        return 2;
    }
    const std::string folder = argv[1], kernels = argv[2];
    void* nvrtc = dlopen((folder + "/libnvrtc.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    void* runtime = dlopen((folder + "/libpxlemu.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    if (nvrtc == nullptr || runtime == nullptr)
    {
        std::fprintf(stderr, "cannot load the emulator from %s: %s\n", folder.c_str(), dlerror());
        return 2;
    }
    auto create = (int (*)(void**, const char*, const char*, int, const char* const*, const char* const*))dlsym(nvrtc, "nvrtcCreateProgram");
    auto compile = (int (*)(void*, int, const char* const*))dlsym(nvrtc, "nvrtcCompileProgram");
    auto image = (int (*)(void*, char*))dlsym(nvrtc, "nvrtcGetPTX");
    auto log = (int (*)(void*, char*))dlsym(nvrtc, "nvrtcGetProgramLog");
    auto run = (decltype(&pxlemu_run_grid))dlsym(runtime, "pxlemu_run_grid");

    const std::string prelude = read_file(kernels + "/prelude.cuh"), mma = read_file(kernels + "/mma.cuh");
    const char* headers[] = {prelude.c_str(), mma.c_str()};
    const char* names[] = {"prelude.cuh", "mma.cuh"};
    void* program = nullptr;
    create(&program, kSource, "selftest_runtime.cu", 2, headers, names);
    if (compile(program, 0, nullptr) != 0)
    {
        std::vector<char> text(1 << 16);
        log(program, text.data());
        std::fprintf(stderr, "the self-test kernels did not compile:\n%s\n", text.data());
        return 1;
    }
    std::vector<char> bytes(4096);
    image(program, bytes.data());
    std::string path(bytes.data() + std::strlen(PXLEMU_IMAGE_MAGIC));
    path = path.substr(0, path.find('\n'));
    void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    const PxlemuKernel* list = nullptr;
    const int count = module == nullptr ? 0 : ((PxlemuModuleKernelsFn)dlsym(module, PXLEMU_MODULE_SYMBOL))(&list);
    auto kernel = [&](const char* name) -> const PxlemuKernel* {
        for (int i = 0; i < count; i++)
            if (std::strcmp(list[i].name, name) == 0) return &list[i];
        std::fprintf(stderr, "no kernel %s in %s\n", name, path.c_str());
        std::exit(1);
    };
    char error[256];
    auto launch = [&](const char* name, void** args, unsigned blocks, unsigned threads) {
        error[0] = 0;
        return run(kernel(name), args, blocks, 1, 1, threads, 1, 1, 0, error, sizeof error);
    };

    {
        float y = -1;
        float* py = &y;
        int live = 100;
        void* args[] = {&live, &py};
        const int status = launch("barrier_after_exit", args, 1, 256);
        check(status == 0 && y == 4950.0f, "__syncthreads counts only the threads still running (100 of 256)");
    }
    {
        float y[32];
        float* py = y;
        void* args[] = {&py};
        bool ok = launch("shuffles", args, 1, 32) == 0;
        for (int l = 0; l < 32; l++) ok = ok && y[l] == 528.0f + 6000.0f;
        check(ok, "__shfl_xor_sync butterfly sums and __shfl_sync broadcasts");
    }
    {
        unsigned short a[256], bt[128];
        for (int i = 0; i < 256; i++) a[i] = (unsigned short)(0x3f80 + ((i * 7) % 23) * 8 - 64);   // bf16 values near 1
        for (int i = 0; i < 128; i++) bt[i] = (unsigned short)(0xbf00 + ((i * 5) % 19) * 16);      // and near -0.5
        float d[128];
        unsigned short *pa = a, *pb = bt;
        float* pd = d;
        void* args[] = {&pa, &pb, &pd};
        bool ok = launch("mma_product", args, 1, 32) == 0;
        double worst = 0;
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
            {
                double expected = 0;
                for (int k = 0; k < 16; k++) expected += (double)bf16_value(a[i * 16 + k]) * bf16_value(bt[j * 16 + k]);
                worst = std::fmax(worst, std::fabs(expected - d[i * 8 + j]));
            }
        check(ok && worst < 1e-4, "ldmatrix + mma.sync.m16n8k16 (bf16) give A·B in the PTX ISA's fragment layout");
    }
    {
        float y = 0;
        float* py = &y;
        void* args[] = {&py};
        setenv("PIXELLLM_EMULATOR_ORDER", "forward", 1);
        const bool forward = launch("missing_barrier", args, 1, 32) == 0 && y == 42.0f;
        setenv("PIXELLLM_EMULATOR_ORDER", "reverse", 1);
        const bool reverse = launch("missing_barrier", args, 1, 32) == 0 && std::isnan(y);
        unsetenv("PIXELLLM_EMULATOR_ORDER");
        check(forward && reverse, "a read without a barrier: the writer's value in forward order, poisoned shared memory (NaN) in reverse");
    }
    {
        int flag = 0;
        float y[2] = {0, 0};
        int* pf = &flag;
        float* py = y;
        void* args[] = {&pf, &py};
        check(launch("handoff", args, 2, 32) == 0 && y[1] == 8.0f, "a block waits for another block of the same grid");
    }
    {
        int which = 3;
        void* args[] = {&which};
        const int status = launch("traps", args, 2, 32);
        check(status != 0 && std::strstr(error, "trapped: asked to") != nullptr, "a trapping thread fails the launch with its reason");
    }
    std::printf("selftest_runtime: %d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
