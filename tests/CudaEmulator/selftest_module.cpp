// selftest_module.cpp → selftest_module.so: a hand-written emulated module for selftest_driver.cpp (what the fake NVRTC
// would build from a kernel file, written out by hand: the kernels, their parameter sizes and invoke wrappers, and the
// pxlemu_module_kernels table; see pxlemu.h).
//
// The kernels use no thread or block index: every CUDA thread does the whole job, so the result does not depend on how
// the runtime schedules them. Each writes the same values whoever runs it, with relaxed atomic stores, so that blocks
// running at once on different host threads do not race.
//
// Build, with libpxlemu.so in <dir> (--no-as-needed: the module only refers to the runtime weakly, and must still
// list it as a dependency for that reference to find it):
//   g++ -std=c++17 -O2 -fPIC -shared -Wall -Wextra -o selftest_module.so selftest_module.cpp
//       -L<dir> -Wl,--no-as-needed -lpxlemu -Wl,-rpath,'$ORIGIN'
#include <cstddef>

#include "pxlemu.h"

// A runtime may offer a way for a thread to fail its grid; if this one does not, fail_always does nothing.
extern "C" void pxlemu_trap(const char* why) __attribute__((weak));

namespace {

void store(float* p, float v) { __atomic_store(p, &v, __ATOMIC_RELAXED); }

// y[i] = x[i] + 1
void add_one(const float* x, float* y, int n)
{
    for (int i = 0; i < n; i++) store(&y[i], x[i] + 1.0f);
}

// y[i] = a·x[i] + b
void axpb(const float* x, float* y, float a, float b, int n)
{
    for (int i = 0; i < n; i++) store(&y[i], a * x[i] + b);
}

// A 16-byte parameter, to check that parameters of every size are kept whole.
struct Pair
{
    double value;
    char tag;
};

// y[i] = p.value + p.tag
void fill_pair(float* y, Pair p, int n)
{
    for (int i = 0; i < n; i++) store(&y[i], (float)(p.value + p.tag));
}

void fail_always(int code)
{
    if (pxlemu_trap != nullptr && code != 0) pxlemu_trap("fail_always was asked to fail");
}

void invoke_add_one(void* f, void** a)
{
    reinterpret_cast<decltype(&add_one)>(f)(*(const float**)a[0], *(float**)a[1], *(int*)a[2]);
}

void invoke_axpb(void* f, void** a)
{
    reinterpret_cast<decltype(&axpb)>(f)(*(const float**)a[0], *(float**)a[1], *(float*)a[2], *(float*)a[3], *(int*)a[4]);
}

void invoke_fill_pair(void* f, void** a) { reinterpret_cast<decltype(&fill_pair)>(f)(*(float**)a[0], *(Pair*)a[1], *(int*)a[2]); }

void invoke_fail_always(void* f, void** a) { reinterpret_cast<decltype(&fail_always)>(f)(*(int*)a[0]); }

const size_t add_one_sizes[] = {sizeof(const float*), sizeof(float*), sizeof(int)};
const size_t axpb_sizes[] = {sizeof(const float*), sizeof(float*), sizeof(float), sizeof(float), sizeof(int)};
const size_t fill_pair_sizes[] = {sizeof(float*), sizeof(Pair), sizeof(int)};
const size_t fail_always_sizes[] = {sizeof(int)};

const PxlemuKernel kernels[] = {
    {"add_one", 3, add_one_sizes, (void*)&add_one, &invoke_add_one},
    {"axpb", 5, axpb_sizes, (void*)&axpb, &invoke_axpb},
    {"fill_pair", 3, fill_pair_sizes, (void*)&fill_pair, &invoke_fill_pair},
    {"fail_always", 1, fail_always_sizes, (void*)&fail_always, &invoke_fail_always},
};

} // namespace

extern "C" __attribute__((visibility("default"))) int pxlemu_module_kernels(const PxlemuKernel** list)
{
    *list = kernels;
    return (int)(sizeof kernels / sizeof kernels[0]);
}
