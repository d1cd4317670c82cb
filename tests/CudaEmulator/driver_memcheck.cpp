// driver_memcheck.cpp: part of the fake CUDA driver, libcuda.so.1 (see fake_driver.h): PIXELLLM_EMULATOR_MEMCHECK=1.
// Each device allocation gets pages of its own: an inaccessible page, then its bytes (16-byte aligned, filled with
// 0xFF) ending at most 15 bytes before a second inaccessible page. A kernel that reads or writes past the end of an
// allocation (or before its start, into the page before it) faults there; the handler names the access, the kernel and
// the thread, then exits with kMemcheckExitCode. Faults anywhere else go to the handler that was installed before (the
// .NET runtime turns its own into NullReferenceExceptions).
//
// With the engine's PIXELLLM_ISOLATE_TENSORS=1 every tensor is an allocation of its own, so this sees a kernel that
// overruns one tensor into its neighbour, which inside one arena would go unnoticed.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_driver.h"

// libpxlemu.so (runtime.cpp): the kernel, block and thread the calling host thread is running, or 0 outside a kernel.
extern "C" int pxlemu_running_thread(char* text, size_t size);

namespace fake_driver {
namespace {

struct sigaction previous_segv, previous_bus;

size_t page_size() { return (size_t)sysconf(_SC_PAGESIZE); }

// The allocation whose pages (inaccessible ones included) hold `address`, and where in them it fell. Runs in a signal
// handler: reads the table without the lock (a fault does not wait for other threads' allocations to settle).
void describe_address(uintptr_t address, char* text, size_t size)
{
    for (const auto& [start, a] : driver().allocations)
    {
        const uintptr_t first = reinterpret_cast<uintptr_t>(a.mapping), last = first + a.mapped;
        if (a.mapping == nullptr || address < first || address >= last) continue;
        if (address >= start + a.bytes)
            std::snprintf(text, size, "%zu bytes past the end of a %zu-byte allocation at 0x%zx", (size_t)(address - start - a.bytes),
                          a.bytes, (size_t)start);
        else if (address < start)
            std::snprintf(text, size, "%zu bytes before the start of a %zu-byte allocation at 0x%zx", (size_t)(start - address), a.bytes,
                          (size_t)start);
        else
            std::snprintf(text, size, "inside a %zu-byte allocation at 0x%zx (a fault there is the emulator's bug)", a.bytes, (size_t)start);
        return;
    }
    text[0] = '\0';
}

void on_fault(int signal, siginfo_t* info, void* context)
{
    char where[256];
    describe_address(reinterpret_cast<uintptr_t>(info->si_addr), where, sizeof where);
    if (where[0] == '\0')
    {
        // Not ours: whoever handled this signal before us decides.
        const struct sigaction& before = signal == SIGBUS ? previous_bus : previous_segv;
        if (before.sa_flags & SA_SIGINFO) return before.sa_sigaction(signal, info, context);
        if (before.sa_handler != SIG_DFL && before.sa_handler != SIG_IGN) return before.sa_handler(signal);
        std::signal(signal, SIG_DFL);
        std::raise(signal);
        return;
    }
    char who[256];
    if (pxlemu_running_thread(who, sizeof who) == 0) std::snprintf(who, sizeof who, "host code (a copy, or an emulated cuBLAS call)");
    char line[640];
    const int n = std::snprintf(line, sizeof line, "pxlemu memcheck: %s accessed 0x%zx, %s\n", who,
                                (size_t)reinterpret_cast<uintptr_t>(info->si_addr), where);
    if (n > 0) (void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    _exit(kMemcheckExitCode);
}

void install_handler()
{
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
    sigaction(SIGBUS, &action, &previous_bus);
}

} // namespace

bool memcheck_enabled()
{
    const char* value = std::getenv("PIXELLLM_EMULATOR_MEMCHECK");
    return value != nullptr && std::strcmp(value, "1") == 0;
}

void* memcheck_allocate(size_t bytes, Allocation& record)
{
    static std::once_flag installed;
    std::call_once(installed, install_handler);
    const size_t page = page_size(), aligned = (bytes + 15) / 16 * 16, body = (aligned + page - 1) / page * page;
    void* mapping = mmap(nullptr, body + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED) return nullptr;
    char* pages = static_cast<char*>(mapping);
    if (mprotect(pages + page, body, PROT_READ | PROT_WRITE) != 0)
    {
        munmap(mapping, body + 2 * page);
        return nullptr;
    }
    std::memset(pages + page, 0xFF, body);
    record.mapping = pages;
    record.mapped = body + 2 * page;
    return pages + page + body - aligned;
}

void memcheck_release(const Allocation& record) { munmap(record.mapping, record.mapped); }

} // namespace fake_driver
