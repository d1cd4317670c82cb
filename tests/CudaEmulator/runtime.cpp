// runtime.cpp → libpxlemu.so: runs a grid of an emulated kernel module (see pxlemu.h, emu.h).
//
// Blocks run on host worker threads, all of a grid's blocks at once up to kMaxConcurrentBlocks (the persistent and
// dataflow kernels wait on each other's counters, so they need their blocks resident together, as on a device whose
// grid they sized: the fake driver reports 4 SMs). A block's CUDA threads are fibers on its worker, switched
// at __syncthreads, warp collectives and spin waits only; between those each fiber runs alone (thread order: see ThreadOrder). The switch is a
// few instructions of our own (x86-64: callee-saved registers, MXCSR and the x87 control word), not swapcontext, which
// makes a system call per switch; workers persist across launches, with their fibers' stacks.
//
// Build: g++ -std=c++17 -O2 -fPIC -shared -Wl,-soname,libpxlemu.so -o libpxlemu.so runtime.cpp -ldl -lpthread
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <condition_variable>
#include <functional>

#include <dlfcn.h>
#include <link.h>
#include <sched.h>
#include <sys/mman.h>
#include <unordered_map>

#include "pxlemu.h"

struct PxlemuDim3
{
    unsigned x, y, z;
};

struct PxlemuThreadState
{
    PxlemuDim3 thread_idx, block_idx, block_dim, grid_dim;
};

extern "C" {
__attribute__((visibility("default"))) __thread PxlemuThreadState* pxlemu_self = nullptr;
}

// Saves the callee-saved state on the current stack, stores its pointer in *save, continues on load's stack.
extern "C" void pxlemu_switch_stack(void** save, void* load);
asm(R"(
    .text
    .globl pxlemu_switch_stack
    .hidden pxlemu_switch_stack
    .type pxlemu_switch_stack, @function
pxlemu_switch_stack:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size pxlemu_switch_stack, .-pxlemu_switch_stack
)");

namespace {

constexpr unsigned kMaxConcurrentBlocks = 32;
constexpr size_t kFiberStackBytes = 128 * 1024;
constexpr size_t kExchangeBytesPerLane = 64;
constexpr double kStallSeconds = 120.0;

using Clock = std::chrono::steady_clock;

struct Fiber
{
    void* sp = nullptr; // where its state was saved when it last switched out
    char* stack = nullptr;
    bool done = false;
    unsigned linear = 0;
    PxlemuThreadState state{};
};

struct Warp
{
    unsigned alive = 0;      // lanes that exist and have not returned
    unsigned arrived = 0;    // lanes waiting at the current warp barrier
    unsigned generation = 0;
    unsigned char exchange[32 * kExchangeBytesPerLane];
};

struct Block
{
    const PxlemuKernel* kernel = nullptr;
    void** args = nullptr;
    std::vector<Fiber> fibers;
    std::vector<Warp> warps;
    void* scheduler_sp = nullptr;
    Fiber* current = nullptr;
    unsigned alive = 0, arrived = 0, generation = 0; // the block barrier
    bool progress = false;
    std::string trapped; // why a thread gave up (pxlemu_trap): the block stops
};

thread_local Block* running = nullptr;

// A worker's fiber stacks, kept across the blocks it runs (reserved, committed by the kernel as they are touched).
struct Stacks
{
    std::vector<char*> stacks;
    ~Stacks()
    {
        for (char* s : stacks) munmap(s, kFiberStackBytes);
    }
    char* get(size_t i)
    {
        while (stacks.size() <= i)
        {
            void* s = mmap(nullptr, kFiberStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
            if (s == MAP_FAILED) return nullptr;
            stacks.push_back((char*)s);
        }
        return stacks[i];
    }
};
thread_local Stacks stacks;

void yield_to_scheduler()
{
    Block* b = running;
    pxlemu_switch_stack(&b->current->sp, b->scheduler_sp);
}

// A fiber's first frame (entered by pxlemu_switch_stack's ret); it never returns.
void fiber_main()
{
    Block* b = running;
    Fiber* f = b->current;
    b->kernel->invoke(b->kernel->function, b->args);
    b = running; // (the same block: a fiber never changes workers)
    f->done = true;
    b->alive--;
    b->warps[f->linear / 32].alive &= ~(1u << (f->linear % 32));
    b->progress = true;
    pxlemu_switch_stack(&f->sp, b->scheduler_sp);
    std::abort();
}

// A fresh stack that pxlemu_switch_stack resumes into fiber_main: a zero return address above it (16-byte aligned as
// after a call), fiber_main as the address `ret` takes, six zero registers, then MXCSR and the x87 control word.
void* initial_stack(char* stack)
{
    auto* top = (unsigned long long*)(((unsigned long long)(stack + kFiberStackBytes)) & ~15ull);
    *--top = 0;
    *--top = (unsigned long long)&fiber_main;
    for (int i = 0; i < 6; i++) *--top = 0;
    unsigned mxcsr;
    unsigned short control;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(control));
    *--top = (unsigned long long)mxcsr | ((unsigned long long)control << 32);
    return top;
}

// The order a block's fibers run in between their sync points: `forward` (thread 0 first; the default), `reverse`, or
// `shuffle` (a new order every round, from a seed per block). Code that reads what another thread wrote without a barrier
// between them gets the value in one order and not in another, so a kernel that passes in all three has no such race
// within a block (the device could run its threads in any of these orders).
class ThreadOrder
{
public:
    ThreadOrder(unsigned long long seed, unsigned threads) : state(seed * 0x9e3779b97f4a7c15ull + 1), count(threads)
    {
        const char* mode = std::getenv("PIXELLLM_EMULATOR_ORDER");
        kind = mode == nullptr ? Forward : std::strcmp(mode, "reverse") == 0 ? Reverse : std::strcmp(mode, "shuffle") == 0 ? Shuffle : Forward;
        if (kind == Shuffle)
        {
            permutation.resize(count);
            for (unsigned i = 0; i < count; i++) permutation[i] = i;
        }
    }

    void next_round()
    {
        if (kind != Shuffle) return;
        for (unsigned i = count; i > 1; i--) std::swap(permutation[i - 1], permutation[random() % i]);
    }

    unsigned at(unsigned t) const { return kind == Forward ? t : kind == Reverse ? count - 1 - t : permutation[t]; }

private:
    unsigned long long random()
    {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 2685821657736338717ull;
    }

    enum Kind { Forward, Reverse, Shuffle } kind;
    unsigned long long state;
    unsigned count;
    std::vector<unsigned> permutation;
};

// The kernel's module's thread-local block on this host thread, i.e. every __shared__ variable its kernels have (emu.h),
// found once per module and thread: its address from the module's TLS id, its size from the module's PT_TLS header.
struct TlsIndex
{
    unsigned long module, offset;
};
extern "C" void* __tls_get_addr(TlsIndex* index);

struct SharedSpan
{
    unsigned char* base = nullptr;
    size_t bytes = 0;
};

SharedSpan module_shared(const PxlemuKernel* kernel)
{
    thread_local std::unordered_map<const void*, SharedSpan> spans;
    Dl_info info{};
    if (dladdr(kernel->function, &info) == 0 || info.dli_fname == nullptr) return {};
    auto found = spans.find(info.dli_fbase);
    if (found != spans.end()) return found->second;
    SharedSpan span;
    if (void* module = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD))
    {
        // The x86-64 TLS ABI's own lookup: (module id, offset 0) is the start of this thread's block, allocated if need be.
        size_t id = 0;
        if (dlinfo(module, RTLD_DI_TLS_MODID, &id) == 0 && id != 0)
        {
            TlsIndex start{id, 0};
            span.base = static_cast<unsigned char*>(__tls_get_addr(&start));
        }
        dlclose(module);
    }
    struct Search
    {
        const void* base;
        size_t bytes;
    } search{info.dli_fbase, 0};
    dl_iterate_phdr(
        [](dl_phdr_info* object, size_t, void* data) {
            auto* s = static_cast<Search*>(data);
            if ((const void*)object->dlpi_addr != s->base) return 0;
            for (int i = 0; i < object->dlpi_phnum; i++)
                if (object->dlpi_phdr[i].p_type == PT_TLS) s->bytes = object->dlpi_phdr[i].p_memsz;
            return 1;
        },
        &search);
    span.bytes = span.base == nullptr ? 0 : search.bytes;
    spans[info.dli_fbase] = span;
    return span;
}

std::string run_block(const PxlemuKernel* kernel, void** args, PxlemuDim3 block_idx, PxlemuDim3 block_dim, PxlemuDim3 grid_dim,
                      const std::atomic<bool>& abandon)
{
    const unsigned threads = block_dim.x * block_dim.y * block_dim.z;
    // Shared memory starts as garbage on a device: all ones here (NaN as a float, -1 as an integer), so a kernel that
    // reads what no thread of its block wrote gets NaN, not a previous block's values.
    if (const SharedSpan shared = module_shared(kernel); shared.bytes > 0) std::memset(shared.base, 0xff, shared.bytes);
    Block b;
    b.kernel = kernel;
    b.args = args;
    b.fibers.resize(threads);
    b.warps.resize((threads + 31) / 32);
    b.alive = threads;
    for (unsigned t = 0; t < threads; t++)
    {
        Fiber& f = b.fibers[t];
        f.linear = t;
        f.state.thread_idx = {t % block_dim.x, t / block_dim.x % block_dim.y, t / (block_dim.x * block_dim.y)};
        f.state.block_idx = block_idx;
        f.state.block_dim = block_dim;
        f.state.grid_dim = grid_dim;
        f.stack = stacks.get(t);
        if (f.stack == nullptr) return "no memory for fiber stacks";
        f.sp = initial_stack(f.stack);
        b.warps[t / 32].alive |= 1u << (t % 32);
    }
    ThreadOrder order(((unsigned long long)block_idx.z * grid_dim.y + block_idx.y) * grid_dim.x + block_idx.x, threads);
    Block* outer = running;
    running = &b;
    unsigned remaining = threads;
    auto last_progress = Clock::now();
    std::string error;
    while (remaining > 0)
    {
        b.progress = false;
        // Each round resumes every waiting fiber once, in the order PIXELLLM_EMULATOR_ORDER asks (see thread_order).
        order.next_round();
        for (unsigned t = 0; t < threads; t++)
        {
            Fiber& f = b.fibers[order.at(t)];
            if (f.done) continue;
            b.current = &f;
            pxlemu_self = &f.state;
            pxlemu_switch_stack(&b.scheduler_sp, f.sp);
            if (f.done) remaining--;
            if (!b.trapped.empty()) break;
        }
        if (!b.trapped.empty())
        {
            error = b.trapped;
            break;
        }
        if (remaining == 0) break;
        if (b.progress)
        {
            last_progress = Clock::now();
            continue;
        }
        // Every fiber is waiting: on another block (let the other workers run) or on something that never comes.
        sched_yield();
        if (abandon.load(std::memory_order_relaxed))
        {
            error = "abandoned after another block failed";
            break;
        }
        if (std::chrono::duration<double>(Clock::now() - last_progress).count() > kStallSeconds)
        {
            char text[160];
            std::snprintf(text, sizeof text, "block (%u,%u,%u) made no progress for %.0f s (%u of %u threads waiting)", block_idx.x,
                          block_idx.y, block_idx.z, kStallSeconds, remaining, threads);
            error = text;
            break;
        }
    }
    running = outer;
    pxlemu_self = nullptr;
    return error; // A block given up on leaves its fibers' stacks as they are; the next block resets them.
}

unsigned lane_of(const Fiber* f) { return f->linear % 32; }

void warp_barrier(unsigned mask)
{
    Block* b = running;
    Fiber* f = b->current;
    Warp& w = b->warps[f->linear / 32];
    const unsigned generation = w.generation;
    w.arrived |= 1u << lane_of(f);
    for (;;)
    {
        if (w.generation != generation) return;
        const unsigned needed = mask & w.alive;
        if ((w.arrived & needed) == needed)
        {
            w.arrived &= ~needed;
            w.generation++;
            b->progress = true;
            return;
        }
        yield_to_scheduler();
    }
}

// One launch's blocks, dealt to the workers as they come free.
struct Grid
{
    unsigned long long blocks = 0;
    std::function<std::string(unsigned long long, const std::atomic<bool>&)> run;
    std::atomic<unsigned long long> next{0};
    std::atomic<bool> abandon{false};
    std::mutex error_lock;
    std::string first_error;

    void work()
    {
        for (;;)
        {
            const unsigned long long i = next.fetch_add(1);
            if (i >= blocks || abandon.load()) return;
            std::string why = run(i, abandon);
            if (!why.empty())
            {
                std::lock_guard<std::mutex> hold(error_lock);
                if (first_error.empty()) first_error = why;
                abandon = true;
                return;
            }
        }
    }
};

// Host threads kept across launches (with their fiber stacks and the modules' thread-local shared memory); one grid at a
// time, on as many of them as it has blocks, up to kMaxConcurrentBlocks.
class Workers
{
public:
    static Workers& instance()
    {
        static Workers* workers = new Workers; // never destroyed: its threads may outlive static destruction
        return *workers;
    }

    void run(Grid& grid, unsigned count)
    {
        std::lock_guard<std::mutex> one_grid(serial);
        std::unique_lock<std::mutex> hold(lock);
        while (threads.size() < count)
        {
            const unsigned index = (unsigned)threads.size();
            threads.emplace_back([this, index] { loop(index); });
            threads.back().detach();
        }
        job = &grid;
        participants = count;
        finished = 0;
        generation++;
        wake.notify_all();
        done.wait(hold, [&] { return finished == participants; });
        job = nullptr;
    }

private:
    void loop(unsigned index)
    {
        unsigned long long seen = 0;
        std::unique_lock<std::mutex> hold(lock);
        for (;;)
        {
            wake.wait(hold, [&] { return generation != seen; });
            seen = generation;
            if (index >= participants) continue;
            Grid* grid = job;
            hold.unlock();
            grid->work();
            hold.lock();
            if (++finished == participants) done.notify_all();
        }
    }

    std::mutex serial, lock;
    std::condition_variable wake, done;
    std::vector<std::thread> threads;
    Grid* job = nullptr;
    unsigned participants = 0, finished = 0;
    unsigned long long generation = 0;
};

} // namespace

extern "C" {

__attribute__((visibility("default"))) void pxlemu_syncthreads(void)
{
    Block* b = running;
    const unsigned generation = b->generation;
    b->arrived++;
    for (;;)
    {
        if (b->generation != generation) return;
        if (b->arrived >= b->alive)
        {
            b->arrived = 0;
            b->generation++;
            b->progress = true;
            return;
        }
        yield_to_scheduler();
    }
}

__attribute__((visibility("default"))) void pxlemu_syncwarp(unsigned mask) { warp_barrier(mask); }

// The calling thread fails its grid (the device's trap): its block stops, the others are abandoned, the launch returns the reason.
__attribute__((visibility("default"))) void pxlemu_trap(const char* why)
{
    Block* b = running;
    Fiber* f = b->current;
    const PxlemuThreadState& s = f->state;
    char text[256];
    std::snprintf(text, sizeof text, "thread (%u,%u,%u) of block (%u,%u,%u) trapped: %s", s.thread_idx.x, s.thread_idx.y, s.thread_idx.z,
                  s.block_idx.x, s.block_idx.y, s.block_idx.z, why != nullptr ? why : "trap");
    b->trapped = text;
    f->done = true;
    pxlemu_switch_stack(&f->sp, b->scheduler_sp); // never resumed
    std::abort();
}

// The kernel, block and thread this host thread is running (driver_memcheck.cpp names them in a fault), or 0 outside a
// kernel. Called from a signal handler: reads only this thread's own state.
__attribute__((visibility("default"))) int pxlemu_running_thread(char* text, size_t size)
{
    const Block* b = running;
    if (b == nullptr || b->current == nullptr || b->kernel == nullptr) return 0;
    const PxlemuThreadState& s = b->current->state;
    std::snprintf(text, size, "kernel %s, thread (%u,%u,%u) of block (%u,%u,%u),", b->kernel->name, s.thread_idx.x, s.thread_idx.y,
                  s.thread_idx.z, s.block_idx.x, s.block_idx.y, s.block_idx.z);
    return 1;
}

__attribute__((visibility("default"))) void pxlemu_warp_exchange(const void* mine, void* all, size_t bytes, unsigned mask)
{
    Block* b = running;
    Fiber* f = b->current;
    Warp& w = b->warps[f->linear / 32];
    if (bytes > kExchangeBytesPerLane)
    {
        std::fprintf(stderr, "pxlemu: warp exchange of %zu bytes a lane (limit %zu)\n", bytes, kExchangeBytesPerLane);
        std::abort();
    }
    std::memcpy(w.exchange + lane_of(f) * bytes, mine, bytes);
    warp_barrier(mask);
    std::memcpy(all, w.exchange, 32 * bytes);
    warp_barrier(mask); // nobody writes the buffer again before every lane has read it
}

__attribute__((visibility("default"))) void pxlemu_yield(void)
{
    if (running != nullptr && running->current != nullptr) yield_to_scheduler();
    else sched_yield();
}

__attribute__((visibility("default"))) unsigned long long pxlemu_global_timer_ns(void)
{
    return (unsigned long long)std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

__attribute__((visibility("default"))) int pxlemu_run_grid(const PxlemuKernel* kernel, void** args, unsigned grid_x, unsigned grid_y,
                                                           unsigned grid_z, unsigned block_x, unsigned block_y, unsigned block_z,
                                                           size_t dynamic_shared_bytes, char* error, size_t error_size)
{
    auto fail = [&](const std::string& why) {
        if (error != nullptr && error_size > 0) std::snprintf(error, error_size, "%s", why.c_str());
        return 1;
    };
    const unsigned long long blocks = (unsigned long long)grid_x * grid_y * grid_z;
    const unsigned long long threads = (unsigned long long)block_x * block_y * block_z;
    if (kernel == nullptr) return fail("no kernel");
    if (blocks == 0 || threads == 0 || threads > 1024) return fail("bad launch shape");
    if (dynamic_shared_bytes > 232448) return fail("dynamic shared memory over 232448 bytes");

    const PxlemuDim3 grid{grid_x, grid_y, grid_z}, block{block_x, block_y, block_z};
    Grid job;
    job.blocks = blocks;
    job.run = [&](unsigned long long i, const std::atomic<bool>& abandon) {
        const PxlemuDim3 index{(unsigned)(i % grid_x), (unsigned)(i / grid_x % grid_y), (unsigned)(i / ((unsigned long long)grid_x * grid_y))};
        return run_block(kernel, args, index, block, grid, abandon);
    };
    Workers::instance().run(job, (unsigned)std::min<unsigned long long>(blocks, kMaxConcurrentBlocks));
    const std::string& first_error = job.first_error;
    if (!first_error.empty()) return fail(first_error);
    return 0;
}

} // extern "C"
