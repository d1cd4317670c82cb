// Profiling only, not an op (CudaOpTimer): holds the stream until the host has queued the nodes behind it, so that
// they then run back to back and each node's event pair times the device's work, not the host's launch latency (a
// small kernel finishes before the host has issued the next launch; its bracket would then hold that gap). One thread
// spins until *released ≥ ticket (the host writes tickets to page-locked memory, in order) or timeout_ns have passed:
// a release the host cannot make (a launch queue it blocks on, a wait it forgot) costs at most the timeout, never a hang.
// Launch: grid (1, 1, 1), block 1.
#include "prelude.cuh"

extern "C" __global__ void profile_hold(const volatile i64* released, i64 ticket, i64 timeout_ns)
{ pxl_dependent_launch();
    const u64 start = pxl_now_ns();
    while (*released < ticket && (i64)(pxl_now_ns() - start) < timeout_ns) { }
}
