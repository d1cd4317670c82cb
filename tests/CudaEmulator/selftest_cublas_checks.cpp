// selftest_cublas_checks.cpp: part of the GEMM self-test (see selftest_cublas.cpp): statuses, the Lt heuristic, speed,
// and GEMMs captured into a CUDA graph through the fake driver.
#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "selftest_cublas.h"

namespace selftest {

// ---- statuses ----------------------------------------------------------------------------------------------------------

void status_checks()
{
    std::vector<unsigned char> buffer(4096 * 4, 0);
    const float one = 1, zero = 0;
    auto strided = [&](int m, int n, int k, int type, int lda, int ldb, int ldc, int out_type, int batch) {
        return api.gemm_strided(handle, OpN, OpN, m, n, k, &one, buffer.data(), type, lda, 0, buffer.data(), type, ldb, 0, &zero, buffer.data(),
                                out_type, ldc, 0, batch, 68, -1);
    };
    std::string problem;
    auto expect = [&](const char* what, int got, int want) {
        if (problem.empty() && got != want) problem = std::string(what) + ": got " + std::to_string(got) + ", want " + std::to_string(want);
    };
    expect("f64 operands", strided(4, 4, 4, 1, 4, 4, 4, 1, 1), 15);
    expect("f32 operands, bf16 output", strided(4, 4, 4, F32, 4, 4, 4, BF16, 1), 15);
    expect("bf16 operands, f16 output", strided(4, 4, 4, BF16, 4, 4, 4, F16, 1), 15);
    expect("negative m", strided(-1, 4, 4, F32, 4, 4, 4, F32, 1), 7);
    expect("negative batch", strided(4, 4, 4, F32, 4, 4, 4, F32, -2), 7);
    expect("lda < m", strided(8, 4, 4, F32, 4, 4, 8, F32, 1), 7);
    expect("ldc < m", strided(8, 4, 4, F32, 8, 4, 4, F32, 1), 7);
    expect("empty problem", strided(0, 0, 0, F32, 1, 1, 1, F32, 1), 0);
    expect("null handle", api.gemm_strided(nullptr, 0, 0, 1, 1, 1, &one, buffer.data(), F32, 1, 0, buffer.data(), F32, 1, 0, &zero,
                                           buffer.data(), F32, 1, 0, 1, 68, -1),
           1);
    expect("math mode 16", api.set_math_mode(handle, 16), 0);
    expect("math mode 99", api.set_math_mode(handle, 99), 7);
    expect("workspace", api.set_workspace(handle, buffer.data(), buffer.size()), 0);
    expect("stream", api.set_stream(handle, nullptr), 0);
    int value = -1;
    expect("property major", api.get_property(0, &value), 0);
    expect("major 11", value, 11);
    expect("property minor", api.get_property(1, &value), 0);
    expect("minor 8", value, 8);
    expect("property patch", api.get_property(2, &value), 0);
    expect("patch 0", value, 0);
    expect("property 7", api.get_property(7, &value), 7);
    expect("status string 15", std::strstr(api.status_string(15), "NOT_SUPPORTED") != nullptr, 1);
    expect("status string 7", std::strstr(api.status_string(7), "INVALID_VALUE") != nullptr, 1);
    expect("Lt version", (int)api.lt_version(), 110800);

    void *desc = nullptr, *layout = nullptr, *pref = nullptr;
    expect("desc create", api.desc_create(&desc, 68, F32), 0);
    const int trans = 1;
    const int bad_operation = 5;
    const uint64_t wide = 1;
    expect("TRANSA of 8 bytes", api.desc_set(desc, 3, &wide, sizeof wide), 7);
    expect("TRANSA 5", api.desc_set(desc, 3, &bad_operation, sizeof bad_operation), 7);
    expect("TRANSB", api.desc_set(desc, 4, &trans, sizeof trans), 0);
    expect("unknown desc attribute", api.desc_set(desc, 999, &trans, sizeof trans), 0);
    expect("desc destroy", api.desc_destroy(desc), 0);
    expect("layout ld < rows", api.layout_create(&layout, F32, 8, 4, 4), 7);
    expect("layout negative ld", api.layout_create(&layout, F32, 8, 4, -8), 7);
    expect("layout negative rows", api.layout_create(&layout, F32, (uint64_t)-8, 4, 8), 7);
    expect("pref create", api.pref_create(&pref), 0);
    expect("workspace of 4 bytes", api.pref_set(pref, 1, &trans, sizeof trans), 7);
    expect("unknown pref attribute", api.pref_set(pref, 999, &trans, sizeof trans), 0);
    expect("pref destroy", api.pref_destroy(pref), 0);
    report("statuses (unsupported types, bad sizes and leading dims, attributes, versions)", problem.empty(), problem);
}

void heuristic_checks()
{
    void *desc = nullptr, *l4x4 = nullptr, *l4x5 = nullptr;
    std::string problem;
    auto expect = [&](const char* what, long long got, long long want) {
        if (problem.empty() && got != want) problem = std::string(what) + ": got " + std::to_string(got) + ", want " + std::to_string(want);
    };
    expect("desc", api.desc_create(&desc, 68, F32), 0);
    expect("layout", api.layout_create(&l4x4, BF16, 4, 4, 4), 0);
    expect("layout", api.layout_create(&l4x5, BF16, 4, 5, 4), 0);
    HeuristicResult results[8];
    std::memset(results, 0x5a, sizeof results);
    int found = -1;
    expect("8 requested", api.heuristic(lt_handle, desc, l4x4, l4x4, l4x4, l4x4, nullptr, 8, results, &found), 0);
    expect("found", found, 1);
    expect("state", results[0].state, 0);
    expect("workspace", (long long)results[0].workspace_size, 0);
    expect("0 requested", api.heuristic(lt_handle, desc, l4x4, l4x4, l4x4, l4x4, nullptr, 0, results, &found), 7);
    expect("k mismatch (A 4×5, B 4×4)", api.heuristic(lt_handle, desc, l4x5, l4x4, l4x4, l4x4, nullptr, 1, results, &found), 7);
    const uint32_t relu = 2; // CUBLASLT_EPILOGUE_RELU: not emulated
    expect("epilogue", api.desc_set(desc, 7, &relu, sizeof relu), 0);
    expect("RELU epilogue", api.heuristic(lt_handle, desc, l4x4, l4x4, l4x4, l4x4, nullptr, 1, results, &found), 15);
    api.layout_destroy(l4x4);
    api.layout_destroy(l4x5);
    api.desc_destroy(desc);
    report("Lt heuristic: one algorithm of state 0 and no workspace, however many requested; bad shapes refused", problem.empty(), problem);
}

void timing()
{
    const int n = 512;
    auto a = random_matrix((size_t)n * n, F32, false), b = random_matrix((size_t)n * n, F32, false);
    std::vector<unsigned char> c((size_t)n * n * 4);
    const float one = 1, zero = 0;
    const auto start = std::chrono::steady_clock::now();
    const int status = api.gemm_strided(handle, OpT, OpN, n, n, n, &one, a.data(), F32, n, 0, b.data(), F32, n, 0, &zero, c.data(), F32, n,
                                        0, 1, 68, -1);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char text[96];
    std::snprintf(text, sizeof text, "%.3f s (%.2f GFLOP/s)", seconds, 2.0 * n * n * n / seconds / 1e9);
    report("speed: 512 × 512 × 512 f32 in under 5 s", status == 0 && seconds < 5, text);
}

// The driver is loaded by path and privately, as the backend loads it; the fake cuBLAS(Lt) must still find it.
void capture_check(const char* driver_path)
{
    void* cuda = dlopen(driver_path, RTLD_NOW | RTLD_LOCAL);
    if (cuda == nullptr)
    {
        report("GEMMs captured into a CUDA graph", false, dlerror());
        return;
    }
    int (*init)(unsigned) = nullptr, (*device_get)(int*, int) = nullptr, (*retain)(void**, int) = nullptr;
    int (*set_current)(void*) = nullptr, (*stream_create)(void**, unsigned) = nullptr, (*begin)(void*, int) = nullptr;
    int (*end)(void*, void**) = nullptr, (*instantiate)(void**, void*, unsigned long long) = nullptr;
    int (*launch)(void*, void*) = nullptr, (*synchronize)(void*) = nullptr;
    bool ok = bind(cuda, "cuInit", &init) && bind(cuda, "cuDeviceGet", &device_get) && bind(cuda, "cuDevicePrimaryCtxRetain", &retain) &&
              bind(cuda, "cuCtxSetCurrent", &set_current) && bind(cuda, "cuStreamCreate", &stream_create) &&
              bind(cuda, "cuStreamBeginCapture_v2", &begin) && bind(cuda, "cuStreamEndCapture", &end) &&
              bind(cuda, "cuGraphInstantiateWithFlags", &instantiate) && bind(cuda, "cuGraphLaunch", &launch) &&
              bind(cuda, "cuStreamSynchronize", &synchronize);
    int device = 0, status = ok ? 0 : -1;
    void *context = nullptr, *stream = nullptr, *graph = nullptr, *exec = nullptr, *desc = nullptr, *layout = nullptr;
    if (status == 0) status = init(0) | device_get(&device, 0) | retain(&context, device) | set_current(context) | stream_create(&stream, 1);
    if (status == 0) status = api.set_stream(handle, stream) | api.desc_create(&desc, 68, F32) | api.layout_create(&layout, F32, 2, 2, 2);
    const float nan = std::numeric_limits<float>::quiet_NaN(), a[4] = {1, 2, 3, 4}, b[4] = {0, 1, 1, 0}, two = 2, zero = 0;
    float c[4] = {nan, nan, nan, nan}, d[4] = {nan, nan, nan, nan};
    std::string problem;
    if (status == 0) status = begin(stream, 0);
    if (status == 0)
        status = api.gemm_strided(handle, OpN, OpN, 2, 2, 2, &two, a, F32, 2, 0, b, F32, 2, 0, &zero, c, F32, 2, 0, 1, 68, -1) |
                 api.matmul(lt_handle, desc, &two, a, layout, b, layout, &zero, nullptr, layout, d, layout, nullptr, nullptr, 0, stream);
    if (status == 0 && !(std::isnan(c[0]) && std::isnan(d[0]))) problem = "ran during the capture";
    if (status == 0) status = end(stream, &graph) | instantiate(&exec, graph, 0);
    for (int replay = 0; replay < 2 && status == 0 && problem.empty(); replay++)
    {
        c[0] = d[0] = nan;
        status = launch(exec, stream) | synchronize(stream);
        // 2·A·B with B swapping columns: (2·A(:, 1), 2·A(:, 0)) = 6 8 2 4.
        if (status == 0 && !(c[0] == 6 && c[1] == 8 && c[2] == 2 && c[3] == 4 && d[0] == 6 && d[3] == 4)) problem = "wrong after a launch";
    }
    if (status != 0 && problem.empty()) problem = "status " + std::to_string(status);
    if (layout != nullptr) api.layout_destroy(layout);
    if (desc != nullptr) api.desc_destroy(desc);
    report("GEMMs issued during stream capture run at each graph launch (through the fake driver)", problem.empty(), problem);
}

} // namespace selftest
